"""Depth views and bars for live subscribers: what is sent, when, and the stored position each
output carries (the last stored event it includes), through Binance's real book sync."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mdc.distribution.encode import DepthView
from mdc.distribution.views import BarViews, DepthViews, ViewOut
from mdc.errors import LocalMisuse
from mdc.events import Bar, BookDelta, BookSnapshot, Gap, Level, Trade
from mdc.store.checkpoints import venue_book_sync
from mdc.store.streams import Stream

BOOK = Stream("binance", "book", "BTC-USDT")
ETH_BOOK = Stream("binance", "book", "ETH-USDT")
TRADES = Stream("binance", "trades", "BTC-USDT")
S = 1_000_000_000


def lv(*pairs: tuple[str, str]) -> tuple[Level, ...]:
    return tuple((Decimal(p), Decimal(s)) for p, s in pairs)


BIDS = lv(("99", "1"), ("98", "2"), ("97", "3"))
ASKS = lv(("101", "1"), ("102", "2"), ("103", "3"))


def snap(update_id: int = 100, ts: int = 0, symbol: str = "BTC-USDT") -> BookSnapshot:
    return BookSnapshot("binance", symbol, ts + 7, ts, BIDS, ASKS, update_id=update_id)


def delta(uid: int, ts: int, bids=(), asks=(), first: int | None = None) -> BookDelta:
    """Binance's U/u: `first`..`uid`; the sync applies it when it straddles its last id + 1."""
    first = uid if first is None else first
    return BookDelta("binance", "BTC-USDT", ts + 7, ts, bids, asks, first, uid)


def views(out: list[ViewOut]) -> list[DepthView]:
    assert all(isinstance(o.event, DepthView) and o.stream.family == "book" for o in out)
    return [o.event for o in out]  # type: ignore[misc]


def test_depth_sends_the_top_levels_and_only_when_they_change():
    dv = DepthViews(levels=2, conflate_ns=0)
    [first] = dv.feed(BOOK, 0, snap(), emit=True)
    assert first.seq == 0 and first.stream == BOOK
    assert first.event == DepthView(
        "binance", "BTC-USDT", 7, 0, BIDS[:2], ASKS[:2], in_sync=True, update_id=100
    )
    # Level 97 is third: outside the top 2, so nothing changes for the subscriber.
    assert dv.feed(BOOK, 1, delta(101, 10, bids=lv(("97", "9"))), emit=True) == []
    # A new best bid enters the top 2 and pushes 98 out of it.
    [out] = dv.feed(BOOK, 2, delta(102, 20, bids=lv(("99.5", "4"))), emit=True)
    assert out.seq == 2
    assert out.event.bids == lv(("99.5", "4"), ("99", "1"))
    assert out.event.asks == ASKS[:2]
    assert (out.event.update_id, out.event.ts_event, out.event.ts_recv) == (102, 27, 20)


def test_depth_conflation_holds_changes_and_flushes_the_latest():
    dv = DepthViews(levels=1, conflate_ns=100)
    assert len(dv.feed(BOOK, 0, snap(ts=0), emit=True)) == 1
    assert dv.feed(BOOK, 1, delta(101, 10, bids=lv(("99", "5"))), emit=True) == []
    assert dv.feed(BOOK, 2, delta(102, 20, bids=lv(("99", "6"))), emit=True) == []
    assert dv.flush(99) == []  # the window (0..100) has not passed
    [out] = dv.flush(100)
    assert out.seq == 2 and out.event.bids == lv(("99", "6")) and out.event.ts_recv == 20
    assert dv.flush(1_000) == []  # nothing pending any more


def test_depth_conflation_releases_on_the_next_feed_after_the_window():
    dv = DepthViews(levels=1, conflate_ns=100)
    dv.feed(BOOK, 0, snap(ts=0), emit=True)
    assert dv.feed(BOOK, 1, delta(101, 50, bids=lv(("99", "5"))), emit=True) == []
    [out] = dv.feed(BOOK, 2, delta(102, 150, asks=lv(("101", "8"))), emit=True)
    assert out.seq == 2
    assert (out.event.bids, out.event.asks) == (lv(("99", "5")), lv(("101", "8")))
    # The window restarts at 150: a change at 200 waits.
    assert dv.feed(BOOK, 3, delta(103, 200, asks=lv(("101", "9"))), emit=True) == []


def test_a_change_undone_inside_the_window_sends_nothing():
    dv = DepthViews(levels=1, conflate_ns=100)
    dv.feed(BOOK, 0, snap(ts=0), emit=True)
    dv.feed(BOOK, 1, delta(101, 10, bids=lv(("99", "5"))), emit=True)
    dv.feed(BOOK, 2, delta(102, 20, bids=lv(("99", "1"))), emit=True)
    assert dv.flush(500) == []


def test_warming_sends_nothing_and_current_starts_the_subscriber():
    dv = DepthViews(levels=2, conflate_ns=0)
    assert dv.feed(BOOK, 0, snap(), emit=False) == []
    assert dv.feed(BOOK, 1, delta(101, 10, bids=lv(("99", "2"))), emit=False) == []
    assert dv.feed(ETH_BOOK, 0, snap(symbol="ETH-USDT"), emit=False) == []
    now = {o.stream: o for o in dv.current()}
    assert set(now) == {BOOK, ETH_BOOK}
    assert now[BOOK].seq == 1 and now[BOOK].event.bids == lv(("99", "2"), ("98", "2"))
    assert now[ETH_BOOK].event.symbol == "ETH-USDT" and now[ETH_BOOK].seq == 0
    # current() counts as sent: an unchanged top sends nothing, a changed one does.
    assert dv.feed(BOOK, 2, delta(102, 20, bids=lv(("97", "1"))), emit=True) == []
    assert len(dv.feed(BOOK, 3, delta(103, 30, bids=lv(("98", "1"))), emit=True)) == 1


def test_depth_ignores_what_is_not_a_book_event_and_makes_syncs_lazily():
    made = []

    def factory(venue: str, symbol: str):
        made.append((venue, symbol))
        return venue_book_sync(venue, symbol)

    dv = DepthViews(levels=1, conflate_ns=0, book_sync=factory)
    trade = Trade("binance", "BTC-USDT", 1, 1, Decimal("1"), Decimal("1"), "buy", 1)
    trade_gap = Gap("binance", "BTC-USDT", 1, 1, "trades", "trade id gap", 5, 6)
    assert dv.feed(BOOK, 0, trade, emit=True) == []
    assert dv.feed(BOOK, 1, trade_gap, emit=True) == []
    assert made == [] and dv.current() == []
    dv.feed(BOOK, 2, snap(), emit=True)
    dv.feed(BOOK, 3, delta(101, 10, bids=lv(("99", "3"))), emit=True)
    assert made == [("binance", "BTC-USDT")]


def test_a_stored_book_gap_puts_the_next_view_out_of_sync():
    dv = DepthViews(levels=2, conflate_ns=0)
    [ok] = dv.feed(BOOK, 0, snap(), emit=True)
    assert ok.event.in_sync
    gap = Gap("binance", "BTC-USDT", 50, 50, "book", "disconnected")
    [out] = dv.feed(BOOK, 1, gap, emit=True)
    assert out.seq == 1 and not out.event.in_sync
    assert (out.event.bids, out.event.asks, out.event.ts_recv) == ((), (), 50)
    # A fresh snapshot brings it back.
    [back] = dv.feed(BOOK, 2, snap(update_id=200, ts=60), emit=True)
    assert back.event.in_sync and back.event.update_id == 200


def test_a_delta_skipping_update_ids_puts_the_view_out_of_sync():
    dv = DepthViews(levels=1, conflate_ns=0)
    dv.feed(BOOK, 0, snap(), emit=True)
    [out] = dv.feed(BOOK, 1, delta(110, 10, bids=lv(("99", "2")), first=105), emit=True)
    assert not out.event.in_sync and out.event.bids == ()


def test_bad_depth_settings_are_refused():
    with pytest.raises(LocalMisuse):
        DepthViews(levels=0, conflate_ns=0)
    with pytest.raises(LocalMisuse):
        BarViews(interval_s=0)


def trade(ts_event: int, price: str, size: str, ts_recv: int | None = None) -> Trade:
    recv = ts_event + 1_000 if ts_recv is None else ts_recv
    return Trade("binance", "BTC-USDT", ts_event, recv, Decimal(price), Decimal(size), "buy", None)


def bars(out: list[ViewOut]) -> list[Bar]:
    assert all(isinstance(o.event, Bar) and o.stream == TRADES for o in out)
    return [o.event for o in out]  # type: ignore[misc]


def test_a_bar_closes_on_the_next_bucket_with_exact_ohlcv():
    bv = BarViews(interval_s=60)
    tape = [trade(1 * S, "100", "0.1"), trade(10 * S, "105", "0.2"),
            trade(20 * S, "95", "1"), trade(30 * S, "101", "0.05")]  # fmt: skip
    for seq, t in enumerate(tape):
        assert bv.feed(TRADES, seq, t) == []
    [out] = bv.feed(TRADES, 4, trade(61 * S, "102", "7"))
    assert out.seq == 3  # the last trade in the bar, not the one that closed it
    assert out.event == Bar("binance", "BTC-USDT", 0, 30 * S + 1_000,
                            Decimal("100"), Decimal("105"), Decimal("95"), Decimal("101"),
                            Decimal("1.35"), 60, trade_count=4, vwap=None)  # fmt: skip
    assert str(out.event.volume) == "1.35"  # exact: no float on the way


def test_a_late_trade_is_folded_into_the_open_bar():
    bv = BarViews(interval_s=60)
    bv.feed(TRADES, 0, trade(5 * S, "100", "1"))
    [first] = bv.feed(TRADES, 1, trade(65 * S, "110", "1"))
    assert first.event.trade_count == 1
    # Venue time 30 s (bucket 0, already sent) arrives while the 60 s bar is open.
    assert bv.feed(TRADES, 2, trade(30 * S, "90", "2", ts_recv=70 * S)) == []
    [second] = bv.feed(TRADES, 3, trade(125 * S, "111", "1"))
    b = second.event
    assert (b.ts_event, b.trade_count, b.volume) == (60 * S, 2, Decimal("3"))
    assert (b.open, b.low, b.close, b.ts_recv) == (
        Decimal("110"),
        Decimal("90"),
        Decimal("90"),
        70 * S,
    )
    assert second.seq == 2


def test_flush_closes_a_bar_after_its_grace():
    bv = BarViews(interval_s=60, grace_ns=S)
    bv.feed(TRADES, 0, trade(5 * S, "100", "1"))
    bv.feed(TRADES, 1, trade(6 * S, "101", "2"))
    assert bv.flush(61 * S - 1) == []
    [out] = bars(bv.flush(61 * S))
    assert (out.ts_event, out.close, out.volume) == (0, Decimal("101"), Decimal("3"))
    assert bv.flush(200 * S) == []
    assert bv.feed(TRADES, 2, BookDelta("binance", "BTC-USDT", 1, 1, (), ())) == []


def test_a_trade_after_the_flush_sends_a_correction_of_the_whole_bar():
    bv = BarViews(interval_s=60, grace_ns=S)
    bv.feed(TRADES, 0, trade(5 * S, "100", "1"))
    [original] = bv.flush(61 * S)
    assert bv.feed(TRADES, 1, trade(59 * S, "120", "0.5", ts_recv=62 * S)) == []
    [fix] = bv.flush(63 * S)
    assert fix.seq == 1
    assert fix.event.ts_event == original.event.ts_event == 0
    assert fix.event.ts_recv == 62 * S > original.event.ts_recv  # the newer wins for readers
    assert (fix.event.open, fix.event.high, fix.event.close) == (
        Decimal("100"), Decimal("120"), Decimal("120"))  # fmt: skip
    assert (fix.event.volume, fix.event.trade_count) == (Decimal("1.5"), 2)
    # The next bucket starts a fresh bar.
    bv.feed(TRADES, 2, trade(70 * S, "130", "1"))
    [nxt] = bv.flush(200 * S)
    assert (nxt.event.ts_event, nxt.event.trade_count, nxt.seq) == (60 * S, 1, 2)
