"""FeatureEngine: every configured feature of one instrument, streaming and exact.

Inputs arrive in non-decreasing timestamp order per channel (trades; book samples); an input
older than the last one on its channel is late: counted in `late_events` and dropped. A query
`values(t)` evicts by t (so query times must not go backwards) and sees only inputs with ts <= t.

Memory per instrument: the trades and the valid book samples inside twice the widest window
(stored once whatever the number of widths; inputs also evict, so this holds without queries),
one running aggregate per (feature kind, width) (exact sums; spread statistics keep two sorted
lists of the samples' spreads), at most 256 gap spans, and the point-in-time samples a lagging
query may still need (within the widest window).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Literal

from mdc.features.base import BookSample, BookStep, Level, TradeInput, Value, WindowedExtractor
from mdc.features.config import FeatureConfig
from mdc.features.errors import QueryOrderError
from mdc.features.window import GapLog, Lane, Latest, MultiWindow

GapStream = Literal["trades", "book", "all"]


class _Channel:
    """One input stream's windows: shared entries, one lane per width, its unobserved spans."""

    def __init__(self, extractors: list[WindowedExtractor]) -> None:
        self.extractors = extractors
        self._derives = [e.derive for e in extractors]
        widths = sorted({w for e in extractors for w in e.widths_ns})
        self.lanes = [
            Lane(w, [(i, e.accumulator()) for i, e in enumerate(extractors) if w in e.widths_ns])
            for w in widths
        ]
        self.widest_ns = max(widths, default=0)
        self.window = MultiWindow(self.lanes)
        self.gaps = GapLog()
        self.last_ts: int | None = None

    def accepts(self, ts_ns: int) -> bool:
        """False for a late input; otherwise advances the channel's watermark."""
        if self.last_ts is not None and ts_ns < self.last_ts:
            return False
        self.last_ts = ts_ns
        return True

    def push(self, ts_ns: int, item: Any) -> None:
        """Also evicts as if queried one widest window ago, so memory stays bounded when nobody
        queries, while queries lagging the inputs by up to that much stay exact."""
        if self.extractors:
            self.window.push(ts_ns, tuple([derive(item) for derive in self._derives]))
            self.window.advance(ts_ns - self.widest_ns)

    def emit(self, t_ns: int, start_ns: int, out: dict[str, Value]) -> None:
        self.window.advance(t_ns)
        self.gaps.forget_before(t_ns - self.widest_ns)
        with self.window.as_of(t_ns):
            for lane in self.lanes:
                width = lane.width_ns
                complete = t_ns - width >= start_ns and not self.gaps.overlaps(t_ns, width)
                for slot, acc in lane.accumulators:
                    extractor = self.extractors[slot]
                    if complete:
                        extractor.emit(acc, width, out)
                    else:
                        out.update(dict.fromkeys(n.name for n in extractor.names(width)))


class FeatureEngine:
    """One instrument's features; see the module docstring for ordering and memory."""

    def __init__(self, config: FeatureConfig, stream_start_ns: int) -> None:
        self.config = config
        self.stream_start_ns = stream_start_ns
        windowed = config.windowed()
        self._trades = _Channel([e for e in windowed if e.channel == "trades"])
        self._book = _Channel([e for e in windowed if e.channel == "book"])
        self._book.gaps.go_down(stream_start_ns)  # book windows need a first valid sample
        self._points = config.points()
        self._depth = config.book_depth()
        self._latest = Latest(retain_ns=max(self._trades.widest_ns, self._book.widest_ns))
        self._prev: BookSample | None = None  # predecessor of the next book step
        self._before_prev: BookSample | None = None  # predecessor of _prev, should it be revised
        self._revisable_ts: int | None = None
        self._query_ns: int | None = None
        self.late_events = 0
        self.invalid_snapshots = 0

    def on_trade(self, ts_ns: int, price: Decimal, qty: Decimal, side: int) -> None:
        """side: +1 buy aggressor, -1 sell aggressor, 0 unknown."""
        if not self._trades.accepts(ts_ns):
            self.late_events += 1
            return
        self._trades.push(ts_ns, TradeInput(ts_ns, price, qty, side))

    def on_book(
        self,
        ts_ns: int,
        bids: Sequence[Level],
        asks: Sequence[Level],
        *,
        revise: bool = False,
    ) -> None:
        """A book sample (levels best first). With `revise`, a sample with the same timestamp as
        the previous one replaces it: several messages of one update instant count once."""
        if not self._book.accepts(ts_ns):
            self.late_events += 1
            return
        if revise and self._revisable_ts == ts_ns:
            self._retract_last_sample(ts_ns)
        self._revisable_ts = None
        sample = BookSample.build(ts_ns, bids[: self._depth], asks[: self._depth], self._prev)
        if sample is None:
            self.invalid_snapshots += 1
            return
        self._book.gaps.come_up(ts_ns)
        self._book.push(ts_ns, BookStep(self._prev, sample))
        self._latest.push(ts_ns, sample)
        self._before_prev, self._prev = self._prev, sample
        self._revisable_ts = ts_ns

    def on_gap(self, from_ns: int, to_ns: int, *, stream: GapStream = "all") -> None:
        """Data in [from, to] was lost. Windows overlapping it are null. A book gap also makes
        the book unknown until the next valid sample (point-in-time features null meanwhile)."""
        if stream in ("trades", "all"):
            self._trades.gaps.add(from_ns, to_ns)
        if stream in ("book", "all"):
            self._book.gaps.go_down(min(from_ns, to_ns))
            self._latest.push(to_ns, None)
            self._prev = self._before_prev = None
            self._revisable_ts = None

    def values(self, t_ns: int) -> dict[str, Value]:
        """Every configured feature as of t (keys in config.names order; None = null)."""
        if self._query_ns is not None and t_ns < self._query_ns:
            raise QueryOrderError(
                f"query at {t_ns} precedes an earlier query at {self._query_ns}: "
                "windows have already evicted that past"
            )
        self._query_ns = t_ns
        out: dict[str, Value] = {}
        self._trades.emit(t_ns, self.stream_start_ns, out)
        self._book.emit(t_ns, self.stream_start_ns, out)
        sample = self._latest.at(t_ns)
        for point in self._points:
            point.emit(sample, out)
        return {name: out[name] for name in self.config.names}

    def _retract_last_sample(self, ts_ns: int) -> None:
        self._book.window.retract_last(ts_ns)
        self._latest.retract_last(ts_ns)
        self._prev, self._before_prev = self._before_prev, None
