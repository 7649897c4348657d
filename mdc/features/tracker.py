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

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from mdc.book import Book
from mdc.errors import CollectorError
from mdc.events import BookDelta, BookSnapshot, Event, Gap, Trade
from mdc.features.base import Value
from mdc.features.config import FeatureConfig
from mdc.features.engine import FeatureEngine, GapStream
from mdc.sync import BookSync, TrustingRules

if TYPE_CHECKING:
    from mdc.venues.base import Venue

SIDES = {"buy": 1, "sell": -1, "unknown": 0}
_GAP_STREAMS: dict[str, GapStream] = {"book": "book", "trades": "trades", "connection": "all"}
_BOOK_EVENTS = (BookSnapshot, BookDelta)


class BookSyncLike(Protocol):
    """What the tracker needs of a book sync (mdc.sync.BookSync is one)."""

    book: Book

    @property
    def in_sync(self) -> bool: ...

    def on_event(self, event: Event) -> list[Event]: ...


BookSyncFactory = Callable[[str, str], BookSyncLike]


def default_book_sync(venue: str, symbol: str) -> BookSyncLike:
    """The venue's registered book sync; a trusting one for venues that are not installed."""
    try:
        return _installed_venue(venue).book_sync(symbol)
    except CollectorError:
        return BookSync(venue, symbol, TrustingRules())


@functools.cache
def _installed_venue(name: str) -> Venue:
    """Looked up once per name (a failed lookup is not cached): each lookup scans every installed
    distribution's entry points, milliseconds that every new instrument would pay."""
    from mdc.venues.registry import get_venue  # noqa: PLC0415 - loads venue plugins on demand

    return get_venue(name)


@dataclass(frozen=True)
class FeatureVector:
    venue: str
    symbol: str
    t_ns: int
    values: dict[str, Value]


@dataclass(slots=True)
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
        # isinstance against concrete classes (a tuple, not a union): this runs on every event
        if isinstance(event, Trade):
            self._on_trade(event)
        elif isinstance(event, _BOOK_EVENTS):
            self._on_book(event)
        elif isinstance(event, Gap):
            self._on_gap(event)

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

    def _on_trade(self, trade: Trade) -> None:
        inst = self._instrument(trade)
        if inst is not None:
            inst.engine.on_trade(trade.ts_event, trade.price, trade.size, SIDES[trade.side])

    def _on_book(self, event: BookSnapshot | BookDelta) -> None:
        inst = self._instrument(event)
        if inst is None:
            return
        for derived in inst.sync.on_event(event):
            if isinstance(derived, Gap):
                self._apply_gap(inst, derived)
        if inst.sync.in_sync:
            bids, asks = inst.sync.book.top(self._depth)
            ts = event.ts_event
            inst.engine.on_book(ts, bids, asks, revise=ts == inst.last_book_ts)
            inst.last_book_ts = ts

    def _instrument(self, event: Trade | BookSnapshot | BookDelta) -> _Instrument | None:
        """The event's instrument (new on its first event), its latest time advanced; None when
        the tracker is full."""
        ts = event.ts_event
        inst = self._instruments.get((event.venue, event.symbol))
        if inst is None:
            inst = self._new_instrument(event.venue, event.symbol, ts)
            if inst is None:
                return None
        inst.latest_ts = max(inst.latest_ts, ts)
        return inst

    def _new_instrument(self, venue: str, symbol: str, ts_ns: int) -> _Instrument | None:
        if len(self._instruments) >= self.max_instruments:
            self.dropped_events += 1
            return None
        start = ts_ns if self.observed_from_ns is None else self.observed_from_ns
        inst = _Instrument(FeatureEngine(self.config, start), self.book_sync(venue, symbol), ts_ns)
        self._instruments[venue, symbol] = inst
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
