"""Network faults on one connection's data frames, sans-I/O and seeded.

A `FaultLink` sits between a session and its socket: `process(frame, now_ns)` returns what the
shell should do (send these frames, or close). Stalls are a deadline the shell honours by not
writing until then; the socket stays open and frames wait in the bounded send queue.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from mdc.errors import ConfigError

NS = 1_000_000_000


class FaultConfigError(ConfigError):
    """A fault setting that is not a probability, or an unknown fault name."""


@dataclass(frozen=True, slots=True)
class FaultConfig:
    """Per-frame probabilities; all zero means a perfect network."""

    drop: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    corrupt: float = 0.0
    close: float = 0.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise FaultConfigError(
                    f"fault {f.name!r} must be a probability in [0, 1], got {value!r}"
                )

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def updated(self, changes: Mapping[str, Any]) -> FaultConfig:
        unknown = set(changes) - set(self.names())
        if unknown:
            raise FaultConfigError(f"unknown faults {sorted(unknown)}; valid: {list(self.names())}")
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class Send:
    frame: str


@dataclass(frozen=True, slots=True)
class Close:
    reason: str


FaultAction = Send | Close


def corrupt(frame: str, rng: random.Random) -> str:
    """Cut the frame short and append '#': never valid JSON (a JSON text only ends at its end)."""
    cut = rng.randint(1, max(1, len(frame) - 1))
    return frame[:cut] + "#"


class FaultLink:
    """Fault state of one connection: its config, a held (reordered) frame and a stall deadline."""

    def __init__(self, config: FaultConfig, rng: random.Random) -> None:
        self.config = config
        self._rng = rng
        self._held: str | None = None
        self.stalled_until_ns = 0

    def process(self, frame: str) -> list[FaultAction]:
        cfg, roll = self.config, self._rng.random
        if cfg.close and roll() < cfg.close:
            return [Close("fault: close")]
        if cfg.drop and roll() < cfg.drop:
            return []
        if cfg.corrupt and roll() < cfg.corrupt:
            frame = corrupt(frame, self._rng)
        out = [frame]
        if cfg.duplicate and roll() < cfg.duplicate:
            out.append(frame)
        if self._held is None and cfg.reorder and roll() < cfg.reorder:
            self._held = frame
            return [Send(f) for f in out[1:]]
        if self._held is not None:
            out.append(self._held)
            self._held = None
        return [Send(f) for f in out]

    def release_held(self) -> list[FaultAction]:
        """A held frame is never lost by the fault itself: flush it when reordering stops."""
        held, self._held = self._held, None
        return [Send(held)] if held is not None else []

    def stall(self, now_ns: int, seconds: float) -> None:
        if seconds < 0:
            raise FaultConfigError(f"stall seconds must be >= 0, got {seconds}")
        self.stalled_until_ns = now_ns + int(seconds * NS)

    def stalled(self, now_ns: int) -> bool:
        return now_ns < self.stalled_until_ns
