"""Derived events for live subscribers: depth views of books and bars of trades, sans-I/O.

Position rule: every output is a `ViewOut(event, stream, seq)` whose (`stream`, `seq`) is the
last stored event the output includes (the last book event applied to the view, the last trade
folded into the bar). A client that got it and resumes from "`stream` at `seq` + 1" is served
the derived state rebuilt from the store up to `seq` and then everything stored after it, so
resuming loses nothing and repeats nothing. Positions never point past what an output contains:
a view held back by conflation, or a bar still open, leaves the position where it was.

Time comes in as arguments (the events' `ts_recv`, `flush(now_ns)` on the receive clock), so
the same stored events and calls give the same outputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from mdc.distribution.encode import DepthView
from mdc.errors import LocalMisuse
from mdc.events import Bar, BookDelta, BookSnapshot, Event, Gap, Level, Trade
from mdc.store.checkpoints import BookSyncFactory, BookSyncLike, venue_book_sync
from mdc.store.streams import Stream

_Top = tuple[tuple[Level, ...], tuple[Level, ...], bool]
"""(bids, asks, in_sync): what a depth view shows, compared to decide whether to send one."""


class ViewOut(NamedTuple):
    """A derived event, and the stored event (`stream`, `seq`) whose inclusion it reflects."""

    event: Event
    stream: Stream
    seq: int


@dataclass(slots=True)
class _Depth:
    sync: BookSyncLike
    seq: int = -1
    ts_recv: int = 0
    sent: _Top | None = None
    window_start: int | None = None  # receive time of the last view sent (conflation)
    pending: bool = False


class DepthViews:
    """The top `levels` of each book stream, sent when they change, at most once per
    `conflate_ns` of receive time per stream when that is > 0 (then always the latest state).
    One instance serves one subscriber: what was "last emitted" is what that subscriber has."""

    def __init__(
        self, levels: int, conflate_ns: int, book_sync: BookSyncFactory = venue_book_sync
    ) -> None:
        if levels < 1 or conflate_ns < 0:
            raise LocalMisuse(
                f"depth views need levels >= 1 and conflate_ns >= 0, not {levels} and {conflate_ns}"
            )
        self.levels = levels
        self.conflate_ns = conflate_ns
        self.book_sync = book_sync
        self._books: dict[Stream, _Depth] = {}

    def adopt(self, syncs: Mapping[Stream, tuple[BookSyncLike, int]]) -> None:
        """Start these streams from restored syncs (a checkpoint), each as of a seq (-1: none)."""
        for stream, (sync, seq) in syncs.items():
            self._books[stream] = _Depth(sync, seq)

    def feed(self, stream: Stream, seq: int, event: Event, emit: bool) -> list[ViewOut]:
        """Apply one stored book event; `emit` False only warms the book (before the
        subscriber's start). Returns the view to send now, if any."""
        if not (
            isinstance(event, (BookSnapshot, BookDelta))
            or (isinstance(event, Gap) and event.stream == "book")
        ):
            return []
        state = self._books.get(stream)
        if state is None:
            state = self._books[stream] = _Depth(self.book_sync(stream.venue, stream.symbol))
        state.sync.on_event(event)
        state.seq, state.ts_recv = seq, event.ts_recv
        if not emit:
            return []
        top = self._top(state)
        if top == state.sent:
            state.pending = False  # back to what the subscriber has: nothing to send
            return []
        start = state.window_start
        if self.conflate_ns and start is not None and event.ts_recv < start + self.conflate_ns:
            state.pending = True
            return []
        return [self._send(stream, state, top, event.ts_recv)]

    def flush(self, now_ns: int) -> list[ViewOut]:
        """Pending (conflated) views whose window has passed at `now_ns`, receive clock."""
        out = []
        for stream, state in self._books.items():
            start = state.window_start
            if state.pending and (start is None or now_ns >= start + self.conflate_ns):
                out.append(self._send(stream, state, self._top(state), now_ns))
        return out

    def current(self) -> list[ViewOut]:
        """Every book's view now (a subscriber's start), counted as sent to it."""
        return [
            self._send(stream, state, self._top(state), state.ts_recv)
            for stream, state in self._books.items()
        ]

    def _top(self, state: _Depth) -> _Top:
        bids, asks = state.sync.book.top(self.levels)
        return tuple(bids), tuple(asks), state.sync.in_sync

    def _send(self, stream: Stream, state: _Depth, top: _Top, at_ns: int) -> ViewOut:
        state.sent, state.window_start, state.pending = top, at_ns, False
        sync = state.sync
        head = (stream.venue, stream.symbol, sync.last_ts_event, state.ts_recv)
        view = DepthView(*head, *top, sync.last_update_id)
        return ViewOut(view, stream, state.seq)


@dataclass(slots=True)
class _Bar:
    start: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    count: int
    ts_recv: int
    seq: int

    def add(self, trade: Trade, seq: int) -> None:
        self.high, self.low = max(self.high, trade.price), min(self.low, trade.price)
        self.close, self.volume = trade.price, self.volume + trade.size
        self.count, self.ts_recv, self.seq = self.count + 1, trade.ts_recv, seq


class BarViews:
    """OHLCV bars of `interval_s` from each trade stream, bucketed by venue time (`ts_event`),
    open/close by arrival. A bar is sent when a trade of a later bucket arrives, or by
    `flush` once its end plus `grace_ns` has passed on the receive clock.

    Late trades are never dropped, and never reopen a bucket older than the latest bar: one of
    an earlier bucket than the open bar is folded into the open bar (its volume stays counted,
    in the bar being built). With no bar open, a trade not newer than the last closed bar's
    bucket reopens that bar, whole, as a correction: same start, newer `ts_recv`, which wins for
    readers (`events.Bar`), so the correction must hold every trade of the bar, not just the
    late one.
    """

    def __init__(self, interval_s: int, grace_ns: int = 1_000_000_000) -> None:
        if interval_s < 1 or grace_ns < 0:
            raise LocalMisuse(
                f"bars need interval_s >= 1 and grace_ns >= 0, not {interval_s} and {grace_ns}"
            )
        self.interval_s = interval_s
        self.interval_ns = interval_s * 1_000_000_000
        self.grace_ns = grace_ns
        self._open: dict[Stream, _Bar] = {}
        self._closed: dict[Stream, _Bar] = {}

    def feed(self, stream: Stream, seq: int, event: Event) -> list[ViewOut]:
        """Fold in one stored trade (other events are ignored); returns a bar it closed."""
        if not isinstance(event, Trade):
            return []
        start = event.ts_event - event.ts_event % self.interval_ns
        bar = self._open.get(stream)
        if bar is None:
            closed = self._closed.get(stream)
            if closed is not None and start <= closed.start:
                bar = self._open[stream] = self._closed.pop(stream)  # a correction
        if bar is not None and start <= bar.start:
            bar.add(event, seq)
            return []
        out = [self._close(stream)] if bar is not None else []
        p = event.price
        self._open[stream] = _Bar(start, p, p, p, p, event.size, 1, event.ts_recv, seq)
        return out

    def flush(self, now_ns: int) -> list[ViewOut]:
        """Close and send the bars whose end + `grace_ns` is at or before `now_ns`."""
        due = [
            s for s, b in self._open.items() if b.start + self.interval_ns + self.grace_ns <= now_ns
        ]
        return [self._close(stream) for stream in due]

    def _close(self, stream: Stream) -> ViewOut:
        b = self._closed[stream] = self._open.pop(stream)
        ohlcv = (b.open, b.high, b.low, b.close, b.volume)
        bar = Bar(stream.venue, stream.symbol, b.start, b.ts_recv, *ohlcv, self.interval_s, b.count)
        return ViewOut(bar, stream, b.seq)
