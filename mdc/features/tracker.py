"""FeatureTracker: mdc events in, one FeatureEngine per instrument, feature vectors out.

Live (the BookActor) and replay feed the same events to `on_event`, one at a time, so results
depend on the event sequence only, never on how it was batched:
- Trade -> on_trade at ts_event (side buy +1, sell -1, unknown 0).
- BookSnapshot / BookDelta -> the venue's own book sync (update ids, checksums, depth: the same
  machine the collector and `mdc book` use; a plain trusting book for venues not installed), then,
  while in sync, the top levels as one book sample at ts_event. Consecutive book events with the
  same ts_event are one update: each revises the sample of that instant, so it counts once.
- Gap: book/connection streams invalidate the book (point-in-time features null until the next
  snapshot) and null the windows they overlap; a trades gap nulls the trade windows. A gap with
  symbol "" applies to every instrument of its venue. Gaps the book sync itself detects (id gaps,
  checksum or crossed-book failures) count the same way.
- Quote, Bar and Status events are ignored (quotes duplicate the book's top level).

Bounded: at most `max_instruments` engines; events of further instruments are dropped and counted
in `dropped_events`. Each engine's memory is bounded by its widest window (see engine.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from mdc.book import Book
from mdc.errors import CollectorError
from mdc.events import BookDelta, BookSnapshot, Event, Gap, Trade
from mdc.features.base import Value
from mdc.features.config import FeatureConfig
from mdc.features.engine import FeatureEngine, GapStream
from mdc.sync import BookSync, TrustingRules

SIDES = {"buy": 1, "sell": -1, "unknown": 0}
_GAP_STREAMS: dict[str, GapStream] = {"book": "book", "trades": "trades", "connection": "all"}


class BookSyncLike(Protocol):
    """What the tracker needs of a book sync (mdc.sync.BookSync is one)."""

    book: Book

    @property
    def in_sync(self) -> bool: ...

    def on_event(self, event: Event) -> list[Event]: ...


BookSyncFactory = Callable[[str, str], BookSyncLike]


def default_book_sync(venue: str, symbol: str) -> BookSyncLike:
    """The venue's registered book sync; a trusting one for venues that are not installed."""
    from mdc.venues.registry import get_venue  # noqa: PLC0415 - loads venue plugins on demand

    try:
        return get_venue(venue).book_sync(symbol)
    except CollectorError:
        return BookSync(venue, symbol, TrustingRules())


@dataclass(frozen=True)
class FeatureVector:
    venue: str
    symbol: str
    t_ns: int
    values: dict[str, Value]


@dataclass
class _Instrument:
    engine: FeatureEngine
    sync: BookSyncLike
    latest_ts: int
    last_book_ts: int | None = None


class FeatureTracker:
    def __init__(
        self,
        config: FeatureConfig,
        max_instruments: int = 1024,
        *,
        observed_from_ns: int | None = None,
        book_sync: BookSyncFactory = default_book_sync,
    ) -> None:
        """`observed_from_ns`: every instrument's stream start (a replay's start: the store is
        complete from then on), instead of each instrument's first event time."""
        self.config = config
        self.max_instruments = max_instruments
        self.observed_from_ns = observed_from_ns
        self.book_sync = book_sync
        self.dropped_events = 0
        self._instruments: dict[tuple[str, str], _Instrument] = {}
        self._depth = config.book_depth()

    def on_event(self, event: Event) -> None:
        if isinstance(event, Gap):
            self._on_gap(event)
            return
        if not isinstance(event, Trade | BookSnapshot | BookDelta):
            return
        inst = self._instrument(event.venue, event.symbol, event.ts_event)
        if inst is None:
            return
        inst.latest_ts = max(inst.latest_ts, event.ts_event)
        if isinstance(event, Trade):
            inst.engine.on_trade(event.ts_event, event.price, event.size, SIDES[event.side])
            return
        for derived in inst.sync.on_event(event):
            if isinstance(derived, Gap):
                self._apply_gap(inst, derived)
        if inst.sync.in_sync:
            bids, asks = inst.sync.book.top(self._depth)
            ts = event.ts_event
            inst.engine.on_book(ts, bids, asks, revise=ts == inst.last_book_ts)
            inst.last_book_ts = ts

    def vector(self, venue: str, symbol: str, t_ns: int | None = None) -> FeatureVector | None:
        """Features as of t (default: the latest event time seen for the instrument); None for an
        instrument never seen. Query times must not go backwards (QueryOrderError)."""
        inst = self._instruments.get((venue, symbol))
        if inst is None:
            return None
        t = inst.latest_ts if t_ns is None else t_ns
        return FeatureVector(venue, symbol, t, inst.engine.values(t))

    def instruments(self) -> list[tuple[str, str]]:
        return sorted(self._instruments)

    def engine(self, venue: str, symbol: str) -> FeatureEngine | None:
        """The instrument's engine (for its late/invalid counters); None if never seen."""
        inst = self._instruments.get((venue, symbol))
        return None if inst is None else inst.engine

    def _instrument(self, venue: str, symbol: str, ts_ns: int) -> _Instrument | None:
        key = (venue, symbol)
        inst = self._instruments.get(key)
        if inst is not None:
            return inst
        if len(self._instruments) >= self.max_instruments:
            self.dropped_events += 1
            return None
        start = ts_ns if self.observed_from_ns is None else self.observed_from_ns
        inst = _Instrument(FeatureEngine(self.config, start), self.book_sync(venue, symbol), ts_ns)
        self._instruments[key] = inst
        return inst

    def _on_gap(self, gap: Gap) -> None:
        if gap.symbol:
            targets = [self._instruments.get((gap.venue, gap.symbol))]
        else:
            targets = [i for (v, _), i in self._instruments.items() if v == gap.venue]
        for inst in targets:
            if inst is not None:
                if gap.stream in ("book", "connection"):
                    inst.sync.on_event(gap)
                self._apply_gap(inst, gap)
                inst.latest_ts = max(inst.latest_ts, gap.ts_event)

    def _apply_gap(self, inst: _Instrument, gap: Gap) -> None:
        stream = _GAP_STREAMS.get(gap.stream)
        if stream is None:
            return
        from_ns = gap.from_ts if gap.from_ts is not None else inst.latest_ts
        inst.engine.on_gap(min(from_ns, gap.ts_event), gap.ts_event, stream=stream)
        if stream != "trades":
            inst.last_book_ts = None
