"""FeatureTracker and FeatureEngine behaviour: chunking independence, gaps, late events, bounds."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from mdc.events import BookDelta, BookSnapshot, Gap, Quote, Trade
from mdc.features import FeatureConfig, FeatureEngine, FeatureTracker, QueryOrderError
from mdc.store.synth import book_stream, trades

S = 10**9
T0 = 1_700_000_000 * S
SMALL = FeatureConfig.from_entries(
    [
        {"name": "v", "type": "VWAP", "windows": ["1s", "5s"]},
        {"name": "f", "type": "OrderFlow", "windows": ["1s", "5s"]},
        {"name": "s", "type": "SpreadStatistics", "windows": ["1s", "5s"]},
        {"name": "m", "type": "Microprice"},
        {"name": "o", "type": "OrderFlowImbalance", "windows": ["1s", "5s"]},
        {"name": "r", "type": "RealizedVolatility", "windows": ["1s", "5s"]},
        {"name": "i", "type": "OrderImbalance", "depth_levels": 5},
    ]
)


def _events(seed: int) -> list:
    """Trades and a book stream (deltas, same-instant updates, book gaps + resync snapshots)."""
    rng = random.Random(seed)
    book = book_stream(rng, 400, start_ns=T0, step_ns=20_000_000, gap_every=90)
    merged = sorted(trades(rng, 300, start_ns=T0) + book, key=lambda e: e.ts_recv)
    # A few updates split over two messages that share one event time.
    out = []
    for e in merged:
        out.append(e)
        if isinstance(e, BookDelta) and rng.random() < 0.1:
            out.append(BookDelta(e.venue, e.symbol, e.ts_event, e.ts_recv, e.bids[:1], ()))
    return out


def _run(events: list, cuts: list[int]) -> tuple[list, FeatureTracker]:
    tracker = FeatureTracker(SMALL)
    vectors = []
    start = 0
    for cut in [*cuts, len(events)]:
        for e in events[start:cut]:
            tracker.on_event(e)
        start = cut
        vectors.append(tracker.vector("binance", "BTC-USDT"))
    return vectors, tracker


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_results_do_not_depend_on_how_the_stream_is_chunked(seed):
    events = _events(seed)
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(events)), 25))
    chunked, _ = _run(events, cuts)
    whole, tracker = _run(events, [])
    assert chunked[-1] == whole[-1]
    assert any(v is not None for v in whole[-1].values.values())
    # Every intermediate vector equals a fresh tracker's on that prefix.
    for cut, vector in zip(cuts, chunked, strict=False):
        fresh = FeatureTracker(SMALL)
        for e in events[:cut]:
            fresh.on_event(e)
        assert fresh.vector("binance", "BTC-USDT") == vector
    assert tracker.engine("binance", "BTC-USDT").late_events == 0


def _snapshot(ts: int, bid: str, ask: str, *, symbol: str = "X-Y", uid: int | None = None):
    return BookSnapshot(
        "test", symbol, ts, ts, ((Decimal(bid), Decimal(1)),), ((Decimal(ask), Decimal(2)),), uid
    )


def _trade(ts: int, price: str = "10", side: str = "buy", tid: int = 1, symbol: str = "X-Y"):
    return Trade("test", symbol, ts, ts, Decimal(price), Decimal(1), side, tid)


def test_book_gap_nulls_point_in_time_until_the_next_snapshot_and_overlapping_windows():
    tracker = FeatureTracker(SMALL)
    tracker.on_event(_snapshot(T0, "9", "11"))
    tracker.on_event(_snapshot(T0 + 6 * S, "9", "11"))
    assert tracker.vector("test", "X-Y").values["mid"] == 10.0
    assert tracker.vector("test", "X-Y").values["ofi_5s"] == 0.0
    tracker.on_event(Gap("test", "X-Y", T0 + 7 * S, T0 + 7 * S, "book", "lost", from_ts=T0 + 6 * S))
    values = tracker.vector("test", "X-Y").values
    assert values["mid"] is None and values["ofi_5s"] is None and values["spread_abs"] is None
    assert values["trade_count_5s"] == 0  # the trade stream is unaffected
    # Deltas are useless until a snapshot; the next snapshot revives point-in-time features.
    tracker.on_event(
        BookDelta("test", "X-Y", T0 + 8 * S, T0 + 8 * S, ((Decimal(9), Decimal(3)),), ())
    )
    assert tracker.vector("test", "X-Y").values["mid"] is None
    tracker.on_event(_snapshot(T0 + 9 * S, "10", "12"))
    values = tracker.vector("test", "X-Y").values
    assert values["mid"] == 11.0 and values["ofi_5s"] is None  # window still overlaps the gap
    values = tracker.vector("test", "X-Y", T0 + 9 * S + 5 * S).values
    assert values["ofi_5s"] == 0.0 and values["rv_1s"] == 0.0


def test_trade_gap_nulls_only_overlapping_trade_windows():
    engine = FeatureEngine(SMALL, T0)
    engine.on_trade(T0 + 1 * S, Decimal(10), Decimal(1), 1)
    engine.on_gap(T0 + 2 * S, T0 + 3 * S, stream="trades")
    engine.on_trade(T0 + 4 * S, Decimal(12), Decimal(1), -1)
    values = engine.values(T0 + 6 * S)
    assert values["vwap_5s"] is None and values["trade_count_5s"] is None
    assert values["vwap_1s"] is None and values["trade_count_1s"] == 0  # (5s, 6s]: no overlap
    values = engine.values(T0 + 8 * S)
    assert values["vwap_5s"] == 12.0 and values["net_flow_5s"] == -1.0


def test_connection_gap_with_empty_symbol_reaches_every_instrument_of_the_venue():
    tracker = FeatureTracker(SMALL)
    for symbol in ("A-B", "C-D"):
        tracker.on_event(_snapshot(T0, "9", "11", symbol=symbol))
        tracker.on_event(_trade(T0 + S, symbol=symbol))
    tracker.on_event(Gap("test", "", T0 + 2 * S, T0 + 2 * S, "connection", "disconnected"))
    for symbol in ("A-B", "C-D"):
        values = tracker.vector("test", symbol, T0 + 3 * S).values
        assert values["mid"] is None and values["trade_count_5s"] is None


def test_late_events_are_counted_and_dropped():
    tracker = FeatureTracker(SMALL, observed_from_ns=T0)
    tracker.on_event(_trade(T0 + 2 * S, "10", tid=1))
    tracker.on_event(_trade(T0 + 1 * S, "99", tid=2))
    tracker.on_event(_snapshot(T0 + 3 * S, "9", "11"))
    tracker.on_event(_snapshot(T0 + 2 * S, "50", "51"))
    engine = tracker.engine("test", "X-Y")
    assert engine.late_events == 2
    values = tracker.vector("test", "X-Y", T0 + 6 * S).values
    assert values["vwap_5s"] == 10.0 and values["mid"] == 10.0


def test_invalid_snapshots_are_dropped_from_every_feature():
    engine = FeatureEngine(SMALL, T0)
    engine.on_book(T0, [(Decimal(9), Decimal(1))], [(Decimal(11), Decimal(1))])
    engine.on_book(T0 + S, [(Decimal(12), Decimal(1))], [(Decimal(11), Decimal(1))])  # crossed
    engine.on_book(T0 + 2 * S, [], [(Decimal(11), Decimal(1))])  # empty side
    values = engine.values(T0 + 5 * S)
    assert engine.invalid_snapshots == 2
    assert values["mid"] == 10.0 and values["spread_abs_p50_5s"] is None
    assert values["ofi_5s"] == 0.0 and values["rv_5s"] == 0.0


def test_messages_sharing_an_event_time_are_one_sample():
    tracker = FeatureTracker(SMALL)
    tracker.on_event(_snapshot(T0, "9", "11"))
    delta = BookDelta("test", "X-Y", T0 + 6 * S, T0 + 6 * S, ((Decimal(10), Decimal(1)),), ())
    tracker.on_event(delta)
    tracker.on_event(BookDelta("test", "X-Y", T0 + 6 * S, T0 + 6 * S, (), ((Decimal(12), 1),)))
    values = tracker.vector("test", "X-Y").values
    # one sample in (1s, 6s]: bid 10 / best ask still 11, so spread 1, p50 of a single sample
    assert values["spread_abs_p50_5s"] == 1.0 and values["mid"] == 10.5
    engine = FeatureEngine(SMALL, T0)
    one, two = Decimal(1), Decimal(2)
    engine.on_book(T0, [(Decimal(9), one)], [(Decimal(11), two)])
    bids, asks = [(Decimal(10), one), (Decimal(9), one)], [(Decimal(11), two), (Decimal(12), one)]
    engine.on_book(T0 + 6 * S, bids, asks)
    assert engine.values(T0 + 6 * S) == values


def test_quotes_are_ignored_and_unknown_instruments_give_none():
    tracker = FeatureTracker(SMALL)
    tracker.on_event(Quote("test", "X-Y", T0, T0, Decimal(1), Decimal(1), Decimal(2), Decimal(1)))
    assert tracker.instruments() == [] and tracker.vector("test", "X-Y") is None


def test_max_instruments_bounds_the_tracker():
    tracker = FeatureTracker(SMALL, max_instruments=2)
    for i, symbol in enumerate(("A-B", "C-D", "E-F", "G-H")):
        tracker.on_event(_trade(T0 + i, symbol=symbol, tid=i))
    assert tracker.instruments() == [("test", "A-B"), ("test", "C-D")]
    assert tracker.dropped_events == 2


def test_queries_must_not_go_back_in_time():
    engine = FeatureEngine(SMALL, T0)
    engine.values(T0 + 10 * S)
    with pytest.raises(QueryOrderError, match="precedes an earlier query"):
        engine.values(T0 + 9 * S)


def test_warm_up_nulls_windows_until_they_fit_after_the_start():
    engine = FeatureEngine(SMALL, T0)
    engine.on_trade(T0, Decimal(10), Decimal(1), 1)
    engine.on_book(T0, [(Decimal(9), Decimal(1))], [(Decimal(11), Decimal(1))])
    values = engine.values(T0 + 4 * S)
    assert values["trade_count_5s"] is None and values["ofi_5s"] is None
    assert values["trade_count_1s"] == 0 and values["ofi_1s"] == 0.0 and values["mid"] == 10.0
