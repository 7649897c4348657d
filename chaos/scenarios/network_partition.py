"""The network between a provider and its venue fails: the proxy goes down (a partition), resets
connections, adds latency, or starves bandwidth. Providers must notice, reconnect, resync books
and backfill trades."""

from __future__ import annotations

import random

from chaos.scenarios.base import Scenario, Step, spaced

FAULTS: tuple[tuple[str, dict, float], ...] = (
    ("proxy_down", {}, 3.0),
    ("proxy_reset", {}, 0.5),
    ("proxy_latency", {"latency_ms": 400, "jitter_ms": 100}, 3.0),
    ("proxy_bandwidth", {"rate_kbps": 1}, 3.0),
)


def plan(rng: random.Random, duration_s: float) -> list[Step]:
    instants = spaced(rng, len(FAULTS), duration_s, hold_s=3.0)
    return [
        Step(at, name, {"venue": "*", **params}, hold)
        for at, (name, params, hold) in zip(instants, FAULTS, strict=True)
    ]


SCENARIO = Scenario(
    "network_partition",
    "partition, reset, slow down and starve the venue connections through Toxiproxy",
    plan,
    venues=("binance", "kraken"),
)
