"""The network between a provider and its venue fails: the proxy goes down (a partition), resets
connections, adds latency, or starves bandwidth. Providers must notice, reconnect, resync books
and backfill trades."""

from __future__ import annotations

import random

from chaos.scenarios.base import Fault, Scenario, Step, each_once

FAULTS: tuple[Fault, ...] = (
    ("proxy_down", {"venue": "*"}, 3.0),
    ("proxy_reset", {"venue": "*"}, 0.5),
    ("proxy_latency", {"venue": "*", "latency_ms": 400, "jitter_ms": 100}, 3.0),
    ("proxy_bandwidth", {"venue": "*", "rate_kbps": 1}, 3.0),
)


def plan(rng: random.Random, duration_s: float) -> list[Step]:
    return each_once(rng, duration_s, FAULTS)


SCENARIO = Scenario(
    "network_partition",
    "partition, reset, slow down and starve the venue connections through Toxiproxy",
    plan,
    venues=("binance", "kraken"),
)
