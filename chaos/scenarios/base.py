"""What a chaos scenario is: a seeded fault schedule plus the service levels it must keep.

A scenario module defines one `SCENARIO`; `plan(rng, duration_s)` turns the run's seed into a
list of steps, so the same seed replays the same schedule exactly (the rng is the only source of
randomness, and it is consumed in a fixed order).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from mdc.errors import ConfigError


class ScenarioError(ConfigError):
    """An unknown scenario, or a duration too short for its schedule."""


@dataclass(frozen=True)
class Step:
    """Inject `fault` (a name of chaos.faults' registry, built with `params`) `at_s` seconds into
    the fault phase; heal it `hold_s` seconds later."""

    at_s: float
    fault: str
    params: dict[str, Any] = field(default_factory=dict)
    hold_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Slo:
    """What users of the prediction API must still get while faults happen."""

    max_error_rate: float = 0.01
    max_p99_ms: float = 2000.0
    max_recovery_s: float = 30.0
    max_actor_rss_mb: float = 1500.0


@dataclass(frozen=True)
class Load:
    """Locust users on the prediction API; `spike_users` for `spike_s` seconds mid-run."""

    users: int = 2
    spike_users: int = 0
    spike_at_fraction: float = 0.4
    spike_s: float = 0.0


Plan = Callable[[random.Random, float], list[Step]]


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    plan: Plan
    venues: tuple[str, ...] = ("binance", "kraken")
    slo: Slo = Slo()
    load: Load = Load()
    writer_faults: bool = False
    """The writer's file-system seam accepts injected faults (I/O errors, slow fsync)."""
    private_mounts: bool = False
    """Needs a tmpfs over the data dir: the run happens inside its own mount namespace."""
    min_duration_s: float = 10.0
    replica: bool = False
    """A follower store tails the collector's log through the `replica` proxy (two regions)."""

    def schedule(self, seed: int, duration_s: float) -> list[Step]:
        if duration_s < self.min_duration_s:
            raise ScenarioError(
                f"scenario {self.name} needs --duration of at least {self.min_duration_s:g} s"
            )
        steps = self.plan(random.Random(f"{self.name}:{seed}"), duration_s)
        return sorted(steps, key=lambda step: step.at_s)


def spaced(rng: random.Random, count: int, duration_s: float, hold_s: float) -> list[float]:
    """`count` injection instants spread over the run (one per slot, jittered inside it), each
    leaving room for its hold and a recovery before the next slot."""
    slot = duration_s / count
    room = max(slot - hold_s, 0.0) * 0.5
    return [round(i * slot + rng.uniform(0.0, room), 3) for i in range(count)]


Fault = tuple[str, dict[str, Any], float]
"""(fault name, parameters, hold seconds)."""


def each_once(rng: random.Random, duration_s: float, faults: tuple[Fault, ...]) -> list[Step]:
    """Every fault once, in the given order, spread over the run."""
    longest = max(hold for _, _, hold in faults)
    instants = spaced(rng, len(faults), duration_s, hold_s=longest)
    return [
        Step(at, name, params, hold)
        for at, (name, params, hold) in zip(instants, faults, strict=True)
    ]
