"""Restart policy, OTP style: restart with backoff and jitter, at most R restarts in T seconds,
then escalate; and the states a supervised child moves through. Pure logic: time and randomness
come in as arguments."""

from __future__ import annotations

import enum
import random
from collections import deque
from dataclasses import dataclass

from mdc.backoff import Backoff
from mdc.errors import ConfigError, IllegalTransition


class ChildState(enum.Enum):
    """Where a supervised child is; the values are what the status panel and pings show."""

    STARTING = "starting"
    RUNNING = "running"
    RESTARTING = "restarting"
    FAILED = "failed"


TRANSITIONS: dict[ChildState, frozenset[ChildState]] = {
    ChildState.STARTING: frozenset({ChildState.RUNNING}),
    ChildState.RUNNING: frozenset(
        {
            ChildState.RESTARTING,  # its ping timed out or raised
            ChildState.FAILED,  # it gave up by itself (a failure no retry can fix)
        }
    ),
    ChildState.RESTARTING: frozenset(
        {
            ChildState.RUNNING,  # started again
            ChildState.FAILED,  # the restart intensity was exceeded
            ChildState.RESTARTING,  # each restart attempt (and retry after an error) re-enters it
        }
    ),
    ChildState.FAILED: frozenset(),
}
"""Every move the supervisor makes, in one place, so a new path that breaks the lifecycle fails
loudly instead of leaving a child in a state nothing watches. FAILED is final (the supervisor
runs one restart per child at a time). Stopping moves none: a stopped child keeps its state."""


def checked_move(current: ChildState, wanted: ChildState, who: str) -> ChildState:
    """`wanted` if the table allows the move from `current`; a move outside it is our own bug."""
    if wanted not in TRANSITIONS[current]:
        raise IllegalTransition(who, current, wanted)
    return wanted


@dataclass(frozen=True)
class RestartPolicy:
    max_restarts: int = 5
    """R: restarts allowed within `window_s`; one more escalates."""
    window_s: float = 60.0
    """T."""
    backoff_initial_s: float = 0.2
    backoff_max_s: float = 5.0
    ping_timeout_s: float = 3.0
    """An actor that does not answer a ping within this is hung: it is killed and restarted."""
    ping_every_s: float = 1.0

    @property
    def backoff(self) -> Backoff:
        """Equal jitter: a restarted child never comes back at once, nor all at one instant."""
        return Backoff(self.backoff_initial_s, self.backoff_max_s, floor=0.5)

    def __post_init__(self) -> None:
        if self.max_restarts < 0 or self.window_s <= 0:
            raise ConfigError("restart policy: max_restarts must be >= 0 and window_s > 0")
        if self.ping_timeout_s <= 0 or self.ping_every_s <= 0:
            raise ConfigError("restart policy: ping_timeout_s and ping_every_s must be > 0")
        _ = self.backoff  # its bounds are checked now, not at the first restart


@dataclass(frozen=True, slots=True)
class Restart:
    delay_s: float
    attempt: int


@dataclass(frozen=True, slots=True)
class Escalate:
    restarts_in_window: int
    window_s: float


class RestartTracker:
    """One child's restart history under a policy."""

    def __init__(self, policy: RestartPolicy, rng: random.Random) -> None:
        self.policy = policy
        self.rng = rng
        self.recent: deque[float] = deque()
        self.total = 0

    def on_failure(self, now_s: float) -> Restart | Escalate:
        while self.recent and now_s - self.recent[0] > self.policy.window_s:
            self.recent.popleft()
        if len(self.recent) >= self.policy.max_restarts:
            return Escalate(len(self.recent), self.policy.window_s)
        self.recent.append(now_s)
        self.total += 1
        attempt = len(self.recent)
        return Restart(self.policy.backoff.delay(attempt - 1, self.rng), attempt)
