"""Pure retry and size policy: exponential backoff with full jitter, then park; hard bounds."""

from __future__ import annotations

import random
from dataclasses import dataclass

from mdc.backoff import Backoff
from mdc.errors import ConfigError


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Attempt n (0-based) waits a uniform delay in [0, min(cap, base * 2**n)] ("full jitter",
    so many entries failing together do not retry in lockstep); after `max_attempts` failed
    attempts an entry is parked as a permanent failure."""

    base_ns: int = 1_000_000_000
    cap_ns: int = 300_000_000_000
    max_attempts: int = 8

    def __post_init__(self) -> None:
        if self.base_ns <= 0 or self.cap_ns < self.base_ns or self.max_attempts < 1:
            raise ConfigError("retry policy: need 0 < base_ns <= cap_ns and max_attempts >= 1")

    @property
    def backoff(self) -> Backoff:
        return Backoff(self.base_ns, self.cap_ns)

    def ceiling_ns(self, attempts: int) -> int:
        return round(self.backoff.ceiling(attempts))

    def delay_ns(self, attempts: int, rng: random.Random) -> int:
        return round(self.backoff.delay(attempts, rng))

    def parks(self, attempts: int) -> bool:
        return attempts >= self.max_attempts


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on entries held (every state but purged): beyond them adding raises DLQFull."""

    max_entries: int = 100_000
    max_bytes: int = 256 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.max_entries < 1 or self.max_bytes < 1:
            raise ConfigError("DLQ limits: max_entries and max_bytes must be positive")
