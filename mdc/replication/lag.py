"""How far a follower is behind its primary: in events, in seconds, and the heartbeat's age.

The primary reports its durable ends (per stream) with the time it read them, in every chunk
and in heartbeats while idle. Events behind: the primary's last reported ends minus the
follower's durable ends. Seconds behind: how long ago (primary clock against the follower's:
synchronised clocks assumed, as PostgreSQL's replay_lag does) the primary already held the
oldest record the follower still lacks; 0 when caught up. Heartbeat age: the follower's own
clock since anything came from the primary, which keeps growing through a partition, when the
other two cannot move (MirrorMaker's reason for heartbeats).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

MAX_MARKS = 4096
"""Reports remembered while the follower is behind; further ones are dropped until it catches
up with the oldest (so the seconds stay an upper bound, and memory bounded)."""


@dataclass(frozen=True, slots=True)
class LagReport:
    events: int
    seconds: float
    heartbeat_age_s: float | None  # None: nothing heard yet


class LagTracker:
    def __init__(self) -> None:
        self._primary: dict[str, int] = {}
        self._marks: deque[tuple[int, dict[str, int]]] = deque()
        self._heard_ns: int | None = None
        self._local: Mapping[str, int] = {}

    def heard(self, primary_ends: Mapping[str, int], sent_ns: int, now_ns: int) -> None:
        """A chunk or heartbeat came: the primary's ends at `sent_ns` (its clock)."""
        self._heard_ns = now_ns
        self._primary = dict(primary_ends)
        if self._behind(self._primary) and len(self._marks) < MAX_MARKS:
            self._marks.append((sent_ns, self._primary))

    def applied(self, local_ends: Mapping[str, int]) -> None:
        """The follower's durable ends now."""
        self._local = dict(local_ends)
        while self._marks and not self._behind(self._marks[0][1]):
            self._marks.popleft()

    def _behind(self, ends: Mapping[str, int]) -> bool:
        local = self._local
        return any(end > local.get(stream, 0) for stream, end in ends.items())

    def report(self, now_ns: int) -> LagReport:
        local = self._local
        events = sum(max(0, end - local.get(s, 0)) for s, end in self._primary.items())
        seconds = max(0.0, (now_ns - self._marks[0][0]) / 1e9) if self._marks else 0.0
        age = None if self._heard_ns is None else (now_ns - self._heard_ns) / 1e9
        return LagReport(events, seconds, age)
