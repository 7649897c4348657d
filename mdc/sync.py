"""Stream integrity: book sync and trade-id continuity, shared by every venue.

Both machines pass every data event through (the store keeps what the venue said; replaying the
same events through the same machine rebuilds the same book) and add `Gap` events where they find
loss. What differs per venue is a small `BookRules` object: how a delta relates to the book's last
update id, and whether a checksum must hold after it.
"""

from __future__ import annotations

import enum
import itertools
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from mdc.book import Book
from mdc.errors import IllegalTransition
from mdc.events import BookDelta, BookSnapshot, Event, Gap, Trade

RESUBSCRIBING = "resubscribing for a fresh snapshot"
"""Reason of the Gap a provider records, in line with the book events, when it unsubscribes and
subscribes again: from there until the new snapshot the venue sends nothing for the symbol, so
a book kept elsewhere (a BookActor, a replay) must not count itself in sync."""


class SyncState(enum.Enum):
    AWAIT_SNAPSHOT = "await_snapshot"
    LIVE = "live"
    RESYNC = "resync"


_NEXT: dict[SyncState, set[SyncState]] = {
    SyncState.AWAIT_SNAPSHOT: {SyncState.LIVE, SyncState.RESYNC},
    SyncState.LIVE: {SyncState.RESYNC, SyncState.LIVE},
    SyncState.RESYNC: {SyncState.LIVE, SyncState.RESYNC},
}


class Fit(enum.Enum):
    """How a delta relates to the book it would be applied to."""

    APPLY = "apply"
    STALE = "stale"  # already contained in the book (older than the snapshot, or a duplicate)
    GAP = "gap"  # something between the book and this delta is missing


class BookRules(Protocol):
    """Venue-specific integrity rules; implementations hold no per-symbol state."""

    def fit(self, last_update_id: int | None, delta: BookDelta) -> Fit: ...

    def verify(self, book: Book, delta: BookDelta) -> bool:
        """After applying `delta` (and any truncation): does the venue's checksum hold?"""
        ...

    depth: int | None
    """Levels per side the venue keeps for us; the book is truncated to it after every change."""

    snapshot_in_stream: bool
    """The snapshot arrives on the stream after every delta it contains (a resubscribe), so
    deltas buffered before it are older and dropped; otherwise (a REST snapshot) the buffered
    deltas newer than it are replayed onto it."""


# Hot-path aliases: on Python 3.11 reading an Enum member off its class costs ~80 ns, several
# times per book update.
_LIVE = SyncState.LIVE
_APPLY, _STALE, _GAP = Fit.APPLY, Fit.STALE, Fit.GAP


@dataclass(frozen=True, slots=True)
class NeedSnapshot:
    """The book is invalid: the session must fetch or resubscribe for a fresh snapshot."""

    symbol: str
    reason: str


class BookSync:
    """One symbol's book and its sync state (AWAIT_SNAPSHOT -> LIVE -> RESYNC -> LIVE ...).

    Deltas that arrive before the snapshot are buffered (bounded) and the ones newer than the
    snapshot are replayed onto it; a gap or checksum failure emits a Gap, invalidates the book and
    asks for a snapshot; the book is never reported in sync after a loss.
    """

    def __init__(
        self, venue: str, symbol: str, rules: BookRules, max_buffered: int = 10_000
    ) -> None:
        self.venue = venue
        self.symbol = symbol
        self.rules = rules
        self.book = Book()
        self.state = SyncState.AWAIT_SNAPSHOT
        self.last_update_id: int | None = None
        self.last_ts_event = 0
        self._buffer: deque[BookDelta] = deque(maxlen=max_buffered)
        self._requests: list[NeedSnapshot] = []
        self._snapshot_requested = False

    @property
    def in_sync(self) -> bool:
        return self.state is _LIVE

    def requests(self) -> list[NeedSnapshot]:
        """Snapshot requests raised since the last call (drained)."""
        out, self._requests = self._requests, []
        return out

    def on_event(self, event: Event) -> list[Event]:
        """Feed a BookSnapshot, BookDelta or Gap; returns the Gap events this derives."""
        if type(event) is BookDelta:
            return self.on_delta(event)
        if isinstance(event, BookSnapshot):
            return self._on_snapshot(event)
        if isinstance(event, Gap) and event.stream in ("book", "connection"):
            if self._already_past(event):
                return []
            if event.reason == RESUBSCRIBING:
                self._snapshot_requested = True  # the snapshot is already on its way
            self.invalidate(
                event.reason, emit=False, ts_event=event.ts_event, ts_recv=event.ts_recv
            )
        return []

    def _already_past(self, gap: Gap) -> bool:
        """A book Gap stored after the book moved past its first missing id: a BookActor that
        lagged behind the store recorded a loss that a snapshot stored before its Gap already
        repaired (or that the store never had). Invalidating would hide a book that is whole."""
        return (
            self.state is _LIVE
            and gap.stream == "book"
            and gap.from_id is not None
            and self.last_update_id is not None
            and gap.from_id <= self.last_update_id
        )

    def invalidate(
        self, reason: str, *, emit: bool = True, ts_event: int = 0, ts_recv: int = 0
    ) -> list[Event]:
        """Mark the book untrustworthy (a disconnect, a lost message) and ask for a snapshot,
        unless one is already on its way: a second resubscribe in flight would open a window in
        which the venue sends nothing for the symbol while we hold the first snapshot's book."""
        self._go(SyncState.RESYNC)
        self.book.clear()
        self._buffer.clear()
        if not self._snapshot_requested:
            self._request(reason)
        if not emit:
            return []
        gap = Gap(
            self.venue,
            self.symbol,
            ts_event,
            ts_recv,
            "book",
            reason,
            from_id=None if self.last_update_id is None else self.last_update_id + 1,
            from_ts=self.last_ts_event or None,
        )
        return [gap]

    def checkpoint(self, ts_event: int, ts_recv: int) -> BookSnapshot | None:
        """The book as a snapshot event, to restore from later; None unless in sync."""
        if not self.in_sync:
            return None
        bids, asks = self.book.top()
        return BookSnapshot(
            self.venue,
            self.symbol,
            ts_event,
            ts_recv,
            tuple(bids),
            tuple(asks),
            update_id=self.last_update_id,
        )

    def _request(self, reason: str) -> None:
        self._requests.append(NeedSnapshot(self.symbol, reason))
        self._snapshot_requested = True

    def _on_snapshot(self, snap: BookSnapshot) -> list[Event]:
        if self._older_than_the_live_book(snap):
            # A REST snapshot served before deltas we already applied (it was asked for by a
            # keeper that had lost sync, while the store kept every delta): loading it would
            # roll the book back and break it at the next delta.
            self._snapshot_requested = False
            return []
        if self._buffer and self.rules.fit(snap.update_id, self._buffer[0]) is _GAP:
            # Older than the first delta we hold: nothing was lost, the snapshot is just stale.
            self._request("snapshot older than the buffered deltas")
            return []
        self._snapshot_requested = False
        if self.rules.snapshot_in_stream:
            self._buffer.clear()
        self.book.load(snap.bids, snap.asks)
        self.last_update_id = snap.update_id
        self.last_ts_event = snap.ts_event
        self._go(SyncState.LIVE)
        self._truncate()
        if snap.checksum is not None and not self.rules.verify(self.book, _as_delta(snap)):
            return self.invalidate("checksum mismatch on snapshot", **_times(snap))
        buffered, self._buffer = list(self._buffer), deque(maxlen=self._buffer.maxlen)
        out: list[Event] = []
        for delta in buffered:
            out.extend(self.on_delta(delta))
        return out

    def _older_than_the_live_book(self, snap: BookSnapshot) -> bool:
        return (
            self.state is _LIVE
            and not self.rules.snapshot_in_stream
            and snap.update_id is not None
            and self.last_update_id is not None
            and snap.update_id < self.last_update_id
        )

    def on_delta(self, delta: BookDelta) -> list[Event]:
        """`on_event` for a BookDelta (the hot path, without the type dispatch)."""
        if self.state is not _LIVE:
            if not self._snapshot_requested:
                self._request("initial snapshot")
            elif len(self._buffer) == self._buffer.maxlen:
                self._buffer.clear()
                self._request("delta buffer overflow")
            self._buffer.append(delta)
            return []
        rules = self.rules
        fit = rules.fit(self.last_update_id, delta)
        if fit is not _APPLY:
            if fit is _STALE:
                return []
            return self.invalidate(
                f"update id gap: book at {self.last_update_id}, delta starts at "
                f"{delta.first_update_id}",
                **_times(delta),
            )
        book = self.book
        # Truncation drops only the far ends, so whether the book is crossed stays the same.
        crossed = book.apply(delta.bids, delta.asks)
        if rules.depth is not None:
            book.truncate(rules.depth)
        if delta.last_update_id is not None:
            self.last_update_id = delta.last_update_id
        self.last_ts_event = delta.ts_event
        if delta.checksum is not None and not rules.verify(book, delta):
            return self.invalidate("checksum mismatch", **_times(delta))
        if crossed:
            return self.invalidate("crossed book", **_times(delta))
        return []

    def _truncate(self) -> None:
        if self.rules.depth is not None:
            self.book.truncate(self.rules.depth)

    def _go(self, new: SyncState) -> None:
        if new not in _NEXT[self.state]:
            raise IllegalTransition(f"book sync {self.venue}/{self.symbol}", self.state, new)
        self.state = new


def _times(event: Event) -> dict[str, int]:
    return {"ts_event": event.ts_event, "ts_recv": event.ts_recv}


def _as_delta(snap: BookSnapshot) -> BookDelta:
    return BookDelta(
        snap.venue,
        snap.symbol,
        snap.ts_event,
        snap.ts_recv,
        snap.bids,
        snap.asks,
        checksum=snap.checksum,
    )


class SequenceRules:
    """Update-id ranges (Binance U/u): a delta fits when it straddles last+1; older is stale."""

    depth: int | None = None
    snapshot_in_stream = False

    def fit(self, last_update_id: int | None, delta: BookDelta) -> Fit:
        first, last = delta.first_update_id, delta.last_update_id
        if last_update_id is None or first is None or last is None:
            return _APPLY
        if last <= last_update_id:
            return _STALE
        if first > last_update_id + 1:
            return _GAP
        return _APPLY

    def verify(self, book: Book, delta: BookDelta) -> bool:
        return True


class TrustingRules(SequenceRules):
    """Venues whose book feed has no ids or checksum: loss is detected at the connection level."""

    snapshot_in_stream = True


@dataclass(frozen=True, slots=True)
class ChecksumRules:
    """Venues that send a checksum of the top of the book after every message (Kraken)."""

    checksum: Callable[[Book], int]
    depth: int | None = None
    snapshot_in_stream: bool = True

    def fit(self, last_update_id: int | None, delta: BookDelta) -> Fit:
        return _APPLY

    def verify(self, book: Book, delta: BookDelta) -> bool:
        return delta.checksum is None or self.checksum(book) == delta.checksum


@dataclass(frozen=True, slots=True)
class FetchTrades:
    """Trades the venue published that we did not receive: ids `from_id`..`to_id` inclusive
    (to_id None: up to whatever comes next), or by time from `from_ts` when the venue has no ids."""

    symbol: str
    from_id: int | None
    to_id: int | None
    from_ts: int | None = None


@dataclass(frozen=True, slots=True)
class ResumePoint:
    """Where a restarted provider picks up one symbol's trades: after the newest durable trade,
    and with the id ranges missing between the durable trades it was given (a backfill that was
    still in flight when the old provider died), which it must fetch again."""

    last_id: int
    last_ts_event: int
    holes: tuple[FetchTrades, ...] = ()


def resume_point(symbol: str, trades: Iterable[tuple[int, int]]) -> ResumePoint | None:
    """From durable (trade id, venue time) pairs of one symbol, in any order."""
    ordered = sorted(set(trades))
    if not ordered:
        return None
    holes = tuple(
        FetchTrades(symbol, low_id + 1, high_id - 1, low_ts)
        for (low_id, low_ts), (high_id, _) in itertools.pairwise(ordered)
        if high_id > low_id + 1
    )
    return ResumePoint(*ordered[-1], holes)


class TradeSync:
    """Trade-id continuity for one symbol on venues that number trades consecutively.

    Duplicates are dropped; a jump emits a Gap and a FetchTrades request; trades that later fill a
    pending gap (late, reordered, or from a backfill) pass and shrink it. A trade older than the
    first one received is no repeat either: it passes, and the ids between it and that first one
    become a gap. Pending gaps are bounded: the oldest is given up (it stays recorded as a Gap)
    beyond `max_pending`.
    """

    def __init__(self, venue: str, symbol: str, max_pending: int = 1_000) -> None:
        self.venue = venue
        self.symbol = symbol
        self.first_id: int | None = None
        """The first id received on this stream (None after `resume`: the store has the past)."""
        self.last_id: int | None = None
        self.last_ts_event: int | None = None
        self.max_pending = max_pending
        self.pending: list[list[int]] = []
        self._requests: list[FetchTrades] = []

    def requests(self) -> list[FetchTrades]:
        out, self._requests = self._requests, []
        return out

    def on_trade(self, trade: Trade) -> list[Event]:
        """The trade itself (unless a duplicate), preceded by a Gap if ids were skipped."""
        tid = trade.trade_id
        if tid is None:
            return [trade]
        if self.last_id is None or tid == self.last_id + 1:
            if self.last_id is None:
                self.first_id = tid
            self.last_id = tid
            self.last_ts_event = trade.ts_event
            return [trade]
        if tid > self.last_id + 1:
            gap = self._missing(trade, self.last_id + 1, tid - 1, self.last_ts_event)
            self._advance(trade)
            return [gap, trade]
        if self._fill(tid):
            return [trade]
        if self.first_id is not None and tid < self.first_id:
            return self._before_first(trade)
        return []

    def _before_first(self, trade: Trade) -> list[Event]:
        """Older than the first trade received (the stream began mid-reorder): no repeat, so it
        passes, and the ids between it and that first one are a gap like any other."""
        tid, first = trade.trade_id, self.first_id
        self.first_id = tid
        if tid + 1 == first:
            return [trade]
        return [self._missing(trade, tid + 1, first - 1, trade.ts_event), trade]

    def _missing(self, trade: Trade, low: int, high: int, from_ts: int | None) -> Gap:
        """Ids `low`..`high` were not received: a pending gap, a fetch, and the Gap event."""
        self.pending.append([low, high])
        del self.pending[: -self.max_pending]
        self._requests.append(FetchTrades(self.symbol, low, high, from_ts))
        return Gap(self.venue, self.symbol, trade.ts_event, trade.ts_recv, "trades",
                   "trade id gap", from_id=low, to_id=high, from_ts=from_ts)  # fmt: skip

    def resume(self, point: ResumePoint) -> None:
        """Continue after the last durable trade (a restarted provider): the next live trade then
        reveals exactly what was missed while we were away; holes are fetched again now."""
        self.last_id = point.last_id
        self.last_ts_event = point.last_ts_event
        for hole in point.holes:
            self.pending.append([hole.from_id, hole.to_id])
            self._requests.append(hole)
        del self.pending[: -self.max_pending]

    def _advance(self, trade: Trade) -> None:
        self.last_id = trade.trade_id
        self.last_ts_event = trade.ts_event

    def _fill(self, tid: int) -> bool:
        for i, (low, high) in enumerate(self.pending):
            if low <= tid <= high:
                del self.pending[i]
                parts = [[low, tid - 1]] if low < tid else []
                parts += [[tid + 1, high]] if tid < high else []
                self.pending[i:i] = parts
                return True
        return False
