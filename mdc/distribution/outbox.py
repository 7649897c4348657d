"""One subscriber's bounded queue, and what it does when the subscriber falls behind.

The broadcaster `push`es encoded events (never waiting); the subscriber's sender `pop`s a batch
and its resume position whenever its transport can take one. A stalled subscriber therefore only
ever fills its own outbox, and when that is full its policy decides, explicitly:

- CONFLATE: the queue keeps its `capacity` oldest items; newer ones wait in a map with the latest
  item per key (venue, symbol) until the queue is empty, so memory is `capacity` plus one item
  per key, and each key's items still leave in order. Right for states (quotes, depth), wrong
  for trades.
- DROP_WITH_GAP: newer items are dropped and counted per stream; once there is room again, one
  gap item per stream says which seqs were skipped, before anything newer.
- DISCONNECT: the outbox stops taking items and says why (`overflow`); the shell ends the stream
  (RESOURCE_EXHAUSTED) and the client resumes from the last position it got, losing nothing.

Position: an item says where it was stored (`stream`, `seq`; for a derived item, the stored
event it was made from). The position after a batch moves each stream to the seq after its last
item in the batch; skipped items move it too (conflated ones by being replaced by a later item,
dropped ones by their gap item), so resuming never repeats what was sent nor fills in what the
policy thinned out on purpose.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from mdc.distribution.subscription import Policy
from mdc.errors import LocalMisuse
from mdc.store.follow import Position
from mdc.store.streams import Stream


class Item(NamedTuple):
    """One encoded event for a subscriber: `framed` moves `stream`'s position past `seq`."""

    key: tuple[str, str]
    stream: Stream
    seq: int
    framed: bytes


@dataclass(slots=True)
class _Skipped:
    first: int
    last: int
    count: int = 0


GapEncoder = Callable[[Stream, int, int, int], bytes]
"""(stream, first seq, last seq, count) -> the framed gap item saying they were skipped."""


@dataclass(slots=True)
class Outbox:
    policy: Policy
    capacity: int
    start: Position
    gap: GapEncoder
    _queue: deque[Item] = field(default_factory=deque)
    _latest: dict[tuple[str, str], Item] = field(default_factory=dict)
    _skipped: dict[Stream, _Skipped] = field(default_factory=dict)
    _seqs: dict[Stream, int] = field(default_factory=dict)
    overflow: str | None = None
    conflated: int = 0
    dropped: int = 0

    def __post_init__(self) -> None:
        if self.capacity < 1:
            raise LocalMisuse(f"an outbox holds at least one item, not {self.capacity}")
        self._seqs = self.start.as_dict()

    def __len__(self) -> int:
        return len(self._queue) + len(self._latest)

    def push(self, item: Item) -> None:
        """Take one item, or thin or refuse it by policy when the queue is full."""
        if self.overflow is not None:
            return
        if len(self._queue) < self.capacity and not self._latest:
            if self._skipped:
                self._announce_skipped()
            self._queue.append(item)
        elif self.policy is Policy.CONFLATE:
            self.conflated += item.key in self._latest
            self._latest[item.key] = item
        elif self.policy is Policy.DROP_WITH_GAP:
            self._drop(item)
        else:
            self.overflow = (
                f"the subscriber fell {self.capacity} events behind (policy DISCONNECT): "
                "resume from the last position received"
            )

    def _drop(self, item: Item) -> None:
        self.dropped += 1
        skipped = self._skipped.get(item.stream)
        if skipped is None:
            skipped = self._skipped[item.stream] = _Skipped(item.seq, item.seq)
        skipped.last = item.seq
        skipped.count += 1

    def _announce_skipped(self) -> None:
        """One gap item per stream with skipped items (the queue may exceed its capacity by
        the number of such streams)."""
        for stream, s in self._skipped.items():
            self._queue.append(
                Item(("", ""), stream, s.last, self.gap(stream, s.first, s.last, s.count))
            )
        self._skipped.clear()

    def pop(self, max_items: int) -> tuple[list[bytes], Position] | None:
        """Up to `max_items` framed items, oldest first, and the position after them; None when
        there is nothing to send."""
        if not self._queue and self._latest:
            self._queue.extend(self._latest.values())
            self._latest.clear()
        if not self._queue and self._skipped:
            self._announce_skipped()
        if not self._queue:
            return None
        out = []
        seqs = self._seqs
        for _ in range(min(max_items, len(self._queue))):
            item = self._queue.popleft()
            out.append(item.framed)
            seqs[item.stream] = item.seq + 1
        return out, Position.of(seqs)

    @property
    def position(self) -> Position:
        """After everything popped so far."""
        return Position.of(self._seqs)
