"""A seeded mix of network, process and storage faults, some overlapping."""

from __future__ import annotations

import random

from chaos.scenarios.base import Fault, Scenario, Step
from chaos.scenarios.network_partition import FAULTS as NETWORK
from chaos.scenarios.provider_failure import plan as provider_plan

STEPS = 5
CHOICES: tuple[Fault, ...] = (
    *NETWORK,
    ("kill_actor", {"target": "books:*"}, 0.0),
    ("kill_actor", {"target": "writer"}, 0.0),
    ("io_error", {"op": "write"}, 2.0),
)


def plan(rng: random.Random, duration_s: float) -> list[Step]:
    steps = provider_plan(rng, duration_s)[:1]
    for _ in range(STEPS - 1):
        name, params, hold = rng.choice(CHOICES)
        steps.append(Step(round(rng.uniform(0.05, 0.8) * duration_s, 3), name, params, hold))
    return steps


SCENARIO = Scenario(
    "mixed",
    "a seeded mix of partitions, kills and I/O errors, some at the same time",
    plan,
    venues=("binance", "kraken"),
    writer_faults=True,
    min_duration_s=15.0,
)
