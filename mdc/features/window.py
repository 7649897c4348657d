"""The one rolling-window machine every windowed extractor uses.

A channel (trades, or book samples) keeps its entries once, in timestamp order, however many
window widths read them: each width is a *lane* with a left cursor into the shared entries and
its own accumulators (exact running sums, sorted lists). Entering a window calls `add`, leaving it
calls `remove`, so every lane's aggregate is always exactly that of the entries in (t-W, t].
Memory per channel: the entries inside the widest window, plus at most as many again before
compaction.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

_COMPACT_MIN = 1024


class Accumulator(Protocol):
    """An exact aggregate over the values one extractor derived for the entries of one lane."""

    def add(self, value: Any) -> None: ...

    def remove(self, value: Any) -> None: ...


@dataclass
class Lane:
    """One window width over a channel: entries with index >= cursor and ts > t - width."""

    width_ns: int
    accumulators: list[tuple[int, Accumulator]]  # (slot in each entry's values, accumulator)
    cursor: int = 0

    def add(self, values: Sequence[Any]) -> None:
        for slot, acc in self.accumulators:
            acc.add(values[slot])

    def remove(self, values: Sequence[Any]) -> None:
        for slot, acc in self.accumulators:
            acc.remove(values[slot])


@dataclass
class MultiWindow:
    """Entries (ts, values) shared by several lanes; absolute indices survive compaction."""

    lanes: list[Lane]
    _ts: list[int] = field(default_factory=list)
    _values: list[Sequence[Any]] = field(default_factory=list)
    _offset: int = 0
    _adders: list[tuple[int, Callable[[Any], None]]] = field(init=False)

    def __post_init__(self) -> None:
        # A new entry enters every lane: one flat loop over all their accumulators' `add`.
        self._adders = [(slot, acc.add) for lane in self.lanes for slot, acc in lane.accumulators]

    def __len__(self) -> int:
        return len(self._ts)

    def push(self, ts: int, values: Sequence[Any]) -> None:
        self._ts.append(ts)
        self._values.append(values)
        for slot, add in self._adders:
            add(values[slot])

    def retract_last(self, ts: int) -> None:
        """Undo the newest entry if it has this timestamp (a revised sample replaces it)."""
        if not self._ts or self._ts[-1] != ts:
            return
        index = self._offset + len(self._ts) - 1
        values = self._values.pop()
        self._ts.pop()
        for lane in self.lanes:
            if lane.cursor <= index:
                lane.remove(values)
            lane.cursor = min(lane.cursor, index)

    def advance(self, t_ns: int) -> None:
        """Evict, lane by lane, the entries with ts <= t - width (eviction by query time)."""
        stamps, offset = self._ts, self._offset
        end = offset + len(stamps)
        evicted = False
        for lane in self.lanes:
            edge = t_ns - lane.width_ns
            cursor = lane.cursor
            while cursor < end and stamps[cursor - offset] <= edge:
                lane.remove(self._values[cursor - offset])
                cursor += 1
            evicted = evicted or cursor != lane.cursor
            lane.cursor = cursor
        if evicted:
            self._compact()

    @contextmanager
    def as_of(self, t_ns: int) -> Iterator[None]:
        """Temporarily take out entries newer than t (fed before a query that lags them)."""
        tail = []
        index = self._offset + len(self._ts) - 1
        while index >= self._offset and self._ts[index - self._offset] > t_ns:
            tail.append(index)
            index -= 1
        for i in tail:
            self._each_lane_holding(i, remove=True)
        try:
            yield
        finally:
            for i in reversed(tail):
                self._each_lane_holding(i, remove=False)

    def _each_lane_holding(self, index: int, *, remove: bool) -> None:
        values = self._values[index - self._offset]
        for lane in self.lanes:
            if lane.cursor <= index:
                (lane.remove if remove else lane.add)(values)

    def _compact(self) -> None:
        first = min((lane.cursor for lane in self.lanes), default=self._offset + len(self._ts))
        dead = first - self._offset
        if dead >= _COMPACT_MIN and dead * 2 >= len(self._ts):
            del self._ts[:dead]
            del self._values[:dead]
            self._offset = first


@dataclass
class GapLog:
    """Spans of one channel's time that were not observed: closed gaps plus one open outage.

    A window (t-W, t] overlapping any of them is incomplete, so its features are null. Gaps older
    than the widest window are forgotten; beyond `max_gaps` the two oldest merge into their hull
    (more nulls, never fewer), so memory stays bounded.
    """

    max_gaps: int = 256
    gaps: list[tuple[int, int]] = field(default_factory=list)
    down_since: int | None = None

    def add(self, from_ns: int, to_ns: int) -> None:
        from_ns = min(from_ns, to_ns)
        if self.gaps and from_ns <= self.gaps[-1][1]:
            last_from, last_to = self.gaps[-1]
            self.gaps[-1] = (min(last_from, from_ns), max(last_to, to_ns))
        else:
            self.gaps.append((from_ns, to_ns))
        if len(self.gaps) > self.max_gaps:
            (a, _), (_, b) = self.gaps[0], self.gaps[1]
            self.gaps[:2] = [(a, b)]

    def go_down(self, since_ns: int) -> None:
        if self.down_since is None or since_ns < self.down_since:
            self.down_since = since_ns

    def come_up(self, at_ns: int) -> None:
        if self.down_since is not None:
            if at_ns > self.down_since:
                self.add(self.down_since, at_ns)
            self.down_since = None

    def overlaps(self, t_ns: int, width_ns: int) -> bool:
        edge = t_ns - width_ns
        if self.down_since is not None and self.down_since <= t_ns:
            return True
        return any(a <= t_ns and b > edge for a, b in self.gaps)

    def forget_before(self, edge_ns: int) -> None:
        while self.gaps and self.gaps[0][1] <= edge_ns:
            del self.gaps[0]


@dataclass
class Latest:
    """The latest value with ts <= t, for point-in-time features (None marks "invalidated").

    Keeps the newest entry plus those a lagging query could still need: entries are dropped once
    a newer one is at or before the last query time, or more than `retain_ns` older than the
    newest. A query lagging the newest entry by more than `retain_ns` therefore sees null.
    """

    retain_ns: int
    _entries: deque[tuple[int, Any]] = field(default_factory=deque)
    _query_ns: int | None = None

    def push(self, ts: int, value: Any) -> None:
        if value is None and self._entries and self._entries[-1][0] > ts:
            ts = self._entries[-1][0]
        self._entries.append((ts, value))
        self._trim(ts - self.retain_ns)

    def retract_last(self, ts: int) -> None:
        if self._entries and self._entries[-1][0] == ts and self._entries[-1][1] is not None:
            self._entries.pop()

    def at(self, t_ns: int) -> Any:
        self._query_ns = t_ns
        self._trim(t_ns)
        for ts, value in reversed(self._entries):
            if ts <= t_ns:
                return value
        return None

    def _trim(self, horizon_ns: int) -> None:
        if self._query_ns is not None:
            horizon_ns = max(horizon_ns, self._query_ns)
        entries = self._entries
        while len(entries) > 1 and entries[1][0] <= horizon_ns:
            entries.popleft()
