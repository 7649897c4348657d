"""A sequence anomaly never drops a trade that carries its own id, and whatever is dropped for
any reason is reported (`Dropped`, `Session.drops`/`dropped`), for every venue that numbers."""

from __future__ import annotations

import json

import pytest

from mdc.errors import MalformedMessage
from mdc.events import BookDelta, Trade
from mdc.sync import TradeSync
from mdc.venues.base import ConnectionSequence, Dropped, Session, SessionConfig
from mdc.venues.registry import get_venue

T0 = 1_700_000_000_000_000_000
SEQUENCES = (100, 101, 5000, 102, 103)


def match(sequence: int, trade_id: int) -> bytes:
    return json.dumps({
        "type": "match", "trade_id": trade_id, "side": "sell", "size": "1", "price": "10.5",
        "product_id": "BTC-USD", "sequence": sequence, "time": "2021-04-17T16:43:37.089723Z",
    }).encode()  # fmt: skip


def at(channel: str, seq: int, events: list) -> bytes:
    return json.dumps({"channel": channel, "client_id": "", "timestamp": "2024-01-15T10:30:45Z",
                       "sequence_num": seq, "events": events}).encode()  # fmt: skip


def at_trade(seq: int, trade_id: int) -> bytes:
    trade = {"trade_id": str(trade_id), "product_id": "BTC-USD", "price": "100.5", "size": "0.1",
             "side": "SELL", "time": "2024-01-15T10:30:45Z"}  # fmt: skip
    return at("market_trades", seq, [{"type": "update", "trades": [trade]}])


def at_book(seq: int, kind: str, price: str) -> bytes:
    level = {"side": "bid", "event_time": "2024-01-15T10:30:45Z", "price_level": price,
             "new_quantity": "1"}  # fmt: skip
    return at("l2_data", seq, [{"type": kind, "product_id": "BTC-USD", "updates": [level]}])


def session(venue: str, **config: object) -> Session:
    s = Session(get_venue(venue), SessionConfig(symbols=("BTC-USD",), **config))  # type: ignore[arg-type]
    s.connected(T0)
    s.outbox()
    return s


def trades(events: list) -> list[int]:
    return [e.trade_id for e in events if isinstance(e, Trade)]


def test_coinbase_trades_after_a_sequence_jump_all_pass():
    venue = get_venue("coinbase")
    parsed = [venue.parse(match(seq, tid), T0) for tid, seq in enumerate(SEQUENCES, 1)]
    assert [trades(events) for events in parsed] == [[1], [2], [3], [4], [5]]
    live = session("coinbase", feed="exchange")
    out = [e for tid, seq in enumerate(SEQUENCES, 1) for e in live.receive(match(seq, tid), T0)]
    assert trades(out) == [1, 2, 3, 4, 5] and live.dropped == 0


def test_a_late_advanced_trade_message_keeps_its_trades_and_a_late_book_one_is_reported():
    venue = get_venue("coinbase")
    venue.decode(at_trade(7, 70), T0)
    late_trades = venue.decode(at_trade(6, 69), T0)
    assert late_trades[0] == ConnectionSequence(6) and trades(late_trades) == [69]
    late_book = venue.decode(at_book(5, "update", "99"), T0)
    assert late_book[0] == ConnectionSequence(5) and isinstance(late_book[1], Dropped)
    assert not any(isinstance(item, BookDelta) for item in late_book)


def test_a_refused_message_leaves_no_trace_in_the_connection_sequence():
    venue = get_venue("coinbase")
    venue.decode(at_book(1, "snapshot", "100"), T0)
    for _ in range(2):  # refused each time; not taken for a late repeat the second time
        with pytest.raises(MalformedMessage, match="price NaN"):
            venue.read(at_book(2, "update", "NaN"), T0)
    assert not any(isinstance(i, Dropped) for i in venue.read(at_book(2, "update", "99"), T0))


def test_stale_coinbase_levels_are_reported_when_left_out():
    live = session("coinbase", feed="exchange")
    update = b'{"type":"l2update","product_id":"BTC-USD","changes":[["buy","10","1"]],"time":"%s"}'
    live.receive(update % b"2021-04-17T16:43:38.1Z", T0)  # no book yet: a snapshot is asked for
    live.outbox()
    [emptied] = live.receive(update % b"2021-04-17T16:43:38.2Z", T0)
    assert (emptied.bids, emptied.asks) == ((), ())
    assert live.take_drops() == [
        "BTC-USD: 1 level(s) of an update older than the fresh snapshot asked for are not applied"
    ]


def test_a_trade_older_than_the_first_one_received_is_no_repeat():
    sync = TradeSync("v", "S")
    late, missing, first = (Trade("v", "S", i, i, 1, 1, "buy", i) for i in (3, 4, 5))
    assert sync.on_trade(first) == [first]
    gap, passed = sync.on_trade(late)  # the id between it and the first one is a gap
    assert passed == late and (gap.stream, gap.from_id, gap.to_id) == ("trades", 4, 4)
    assert [(f.from_id, f.to_id) for f in sync.requests()] == [(4, 4)]
    assert sync.on_trade(late) == [] and sync.on_trade(first) == []  # repeats
    assert sync.on_trade(missing) == [missing] and sync.pending == []


def test_repeats_the_session_drops_are_counted_and_named():
    live = session("coinbase", feed="exchange")
    live.receive(match(1, 42), T0)
    assert live.receive(match(2, 42), T0) == []
    assert live.dropped == 1 and "trade 42: a repeat" in live.take_drops()[0]
    assert live.take_drops() == []


def test_binance_aggregate_and_plain_trades_are_separate_id_spaces():
    live = session("binance")
    plain = b'{"e":"trade","E":1,"s":"BTCUSDT","t":12345,"p":"1","q":"1","T":1,"m":true,"M":true}'
    agg = (
        b'{"e":"aggTrade","E":1,"s":"BTCUSDT","a":12345,"p":"1","q":"1","f":1,"l":1,"T":1,"m":true}'
    )
    assert trades(live.receive(agg, T0)) == [12345]
    assert trades(live.receive(plain, T0)) == [12345]
    assert live.dropped == 0
