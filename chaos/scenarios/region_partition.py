"""Two regions: a follower store (`mdc replicate`) tails the collector's log through Toxiproxy,
as another region would over the WAN. Its link gets latency, then a 30 s partition, while the
collector runs under load; after the heal the follower must converge to exactly the primary's
log (no lost, no duplicated record), and its heartbeat age must show it saw the partition."""

from __future__ import annotations

import random

from chaos.scenarios.base import Scenario, Step

REPLICA_LINK = "replica"
"""The proxy between the follower and the primary's gRPC port (a fault's `venue`)."""
PARTITION_S = 30.0


def plan(rng: random.Random, duration_s: float) -> list[Step]:
    latency_at = round(rng.uniform(0.5, 1.5), 3)
    return [
        Step(latency_at, "proxy_latency", {"venue": REPLICA_LINK, "latency_ms": 400}, 4.0),
        Step(latency_at + 6.0, "proxy_down", {"venue": REPLICA_LINK}, PARTITION_S),
    ]


SCENARIO = Scenario(
    "region_partition",
    "a follower store in another region through Toxiproxy: latency, then a 30 s partition",
    plan,
    venues=("binance", "kraken"),
    replica=True,
)
