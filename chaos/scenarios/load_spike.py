"""Eight times the users on the prediction API for a while, while a provider is killed once:
predictions must stay inside the SLO and ingest must not lose anything."""

from __future__ import annotations

import random

from chaos.scenarios.base import Load, Scenario, Slo, Step


def plan(rng: random.Random, duration_s: float) -> list[Step]:
    return [
        Step(round(rng.uniform(0.5, 0.7) * duration_s, 3), "kill_actor", {"target": "provider:*"})
    ]


SCENARIO = Scenario(
    "load_spike",
    "2 steady Locust users plus a 16-user spike, and one provider kill during it",
    plan,
    venues=("binance",),
    load=Load(users=2, spike_users=16, spike_at_fraction=0.3, spike_s=10.0),
    slo=Slo(max_error_rate=0.01, max_p99_ms=5000.0),
)
