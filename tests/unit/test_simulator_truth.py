"""Ground truth answers agree with the model, stay bounded, and fail loudly outside their range."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from mdc.events import Trade, from_json
from mdc.simulator.config import SimulatorConfig
from mdc.simulator.driver import VenueDriver
from mdc.simulator.model import BookUpdate, L2Book
from mdc.simulator.truth import TruthIncomplete, TruthUnavailable

T0 = 1_700_000_000_000_000_000
MS = 1_000_000


def drive(venue: str, seconds: float, **config: object) -> tuple[VenueDriver, list]:
    driver = VenueDriver(venue, SimulatorConfig(seed=4, rate=200, **config))  # type: ignore[arg-type]
    events = []
    for now in range(T0, T0 + int(seconds * 1e9), 10 * MS):
        driver.advance(now)
        events += driver.last_events
    return driver, events


def test_book_at_every_update_id_and_time_replays_the_model() -> None:
    driver, events = drive("binance", 1.0)
    symbol = "BTC-USDT"
    updates = [e for e in events if isinstance(e, BookUpdate) and e.symbol == symbol]
    book = L2Book()
    initial = driver.truth.book(symbol, update_id=updates[0].update_id - 1)
    book.bids, book.asks = dict(initial.bids), dict(initial.asks)
    for update in updates:
        book.apply(update.changes)
        by_id = driver.truth.book(symbol, update_id=update.update_id)
        by_ts = driver.truth.book(symbol, ts_event=update.ts_ns - update.ts_ns % MS)
        assert by_id == by_ts
        assert by_id.bids == book.top("bid") and by_id.asks == book.top("ask")
        assert by_id.ts_event == update.ts_ns // MS * MS


def test_retention_is_bounded_and_says_so() -> None:
    driver, events = drive("kraken", 1.0, truth_book_retention=20)
    last = max(e.update_id for e in events if isinstance(e, BookUpdate) and e.symbol == "ETH-USD")
    assert driver.truth.book("ETH-USD", update_id=last - 19).update_id == last - 19
    with pytest.raises(TruthUnavailable, match="outside retained range"):
        driver.truth.book("ETH-USD", update_id=last - 25)
    with pytest.raises(TruthUnavailable, match="older than retained"):
        driver.truth.book("ETH-USD", ts_event=T0)
    with pytest.raises(TruthUnavailable, match="unknown symbol"):
        driver.truth.book("DOGE-USD", update_id=1)
    with pytest.raises(TruthUnavailable, match="exactly one"):
        driver.truth.book("ETH-USD")


def test_trades_are_exact_venue_trades_until_the_cap() -> None:
    driver, events = drive("alpaca", 1.0)
    trades = driver.truth.trades("AAPL")
    assert trades and all(
        isinstance(t, Trade) and t.exchange == "V" and t.tape == "C" for t in trades
    )
    model_trades = [e for e in events if not isinstance(e, BookUpdate) and e.symbol == "AAPL"]
    assert [(t.trade_id, t.price, t.size, t.side, t.ts_event) for t in trades] == [
        (m.trade_id, m.price, m.size, m.aggressor, m.ts_ns) for m in model_trades
    ]
    capped, _ = drive("alpaca", 1.0, truth_trade_cap=5)
    with pytest.raises(TruthIncomplete, match="truth_trade_cap"):
        capped.truth.trades("AAPL")


def test_dump_writes_trades_and_books_as_json_lines(tmp_path: Path) -> None:
    driver, _ = drive("coinbase", 0.5)
    path = tmp_path / "truth.jsonl"
    count = driver.truth.dump(path)
    lines = path.read_bytes().splitlines()
    assert count == len(lines) > 2
    trades = [from_json(line) for line in lines if json.loads(line)["type"] == "trade"]
    assert trades == driver.truth.trades("BTC-USD") + driver.truth.trades("ETH-USD")
    books = [json.loads(line) for line in lines if json.loads(line)["type"] == "truth_book"]
    latest = driver.truth.book("BTC-USD", update_id=driver.model.symbols["BTC-USD"].update_id)
    assert [[Decimal(p), Decimal(q)] for p, q in books[0]["bids"]] == [
        list(lv) for lv in latest.bids
    ]
