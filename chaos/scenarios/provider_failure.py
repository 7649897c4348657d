"""Providers die (SIGKILL) and hang at seeded instants; the supervisor must restart them and the
restarted providers must backfill every trade they missed."""

from __future__ import annotations

import random

from chaos.scenarios.base import Scenario, Step, spaced

KILLS = 3


def plan(rng: random.Random, duration_s: float) -> list[Step]:
    instants = spaced(rng, KILLS + 1, duration_s, hold_s=3.0)
    steps = [
        Step(at, "kill_actor", {"target": "provider:*", "how": "sigkill"}) for at in instants[:-1]
    ]
    steps.append(Step(instants[-1], "hang_actor", {"target": "provider:*", "seconds": 4.0}, 4.0))
    return steps


SCENARIO = Scenario(
    "provider_failure",
    "SIGKILL a provider three times and hang one, at seeded instants",
    plan,
    venues=("binance", "coinbase"),
)
