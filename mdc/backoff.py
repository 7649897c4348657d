"""Exponential backoff with jitter: the one policy behind every retry (venue reconnects and REST
calls, actor restarts, dead-letter retries). Pure: the caller brings the rng and does the waiting,
in whatever unit it counts (seconds or nanoseconds)."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from mdc.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Backoff:
    """Attempt n (0-based) waits a uniform delay in [floor * c, c], c = min(maximum,
    initial * factor**n). Full jitter (floor 0) keeps many failing parties from retrying in
    lockstep; a floor of 0.5 ("equal jitter") also keeps a restart from coming at once."""

    initial: float
    maximum: float
    factor: float = 2.0
    floor: float = 0.0

    def __post_init__(self) -> None:
        if not (0 < self.initial <= self.maximum and self.factor > 1 and 0 <= self.floor <= 1):
            raise ConfigError(
                "backoff: need 0 < initial <= maximum, factor > 1 and 0 <= floor <= 1"
            )

    def ceiling(self, attempt: int) -> float:
        # Past `steps` the cap holds; bounding the exponent keeps huge attempt counts finite.
        steps = math.ceil(math.log(self.maximum / self.initial) / math.log(self.factor))
        return min(self.maximum, self.initial * self.factor ** min(max(attempt, 0), steps))

    def delay(self, attempt: int, rng: random.Random) -> float:
        ceiling = self.ceiling(attempt)
        return rng.uniform(self.floor * ceiling, ceiling)
