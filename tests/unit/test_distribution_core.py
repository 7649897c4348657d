"""Live distribution's core, without a server: checking subscriptions, a subscriber's outbox
under each slow-consumer policy, and the wire encodings (protobuf frames and JSON lines)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from mdc.distribution.encode import (
    DepthView,
    SkippedGap,
    batch_bytes,
    framed,
    from_proto,
    to_json_line,
    to_proto,
)
from mdc.distribution.outbox import Item, Outbox
from mdc.distribution.subscription import (
    DEFAULT_POLICY,
    BadSubscription,
    FromTime,
    Kind,
    Live,
    Policy,
    check_position,
    parse_position,
    subscription,
)
from mdc.errors import LocalMisuse
from mdc.events import Bar, BookDelta, BookSnapshot, Gap, Quote, Status, Trade, to_json
from mdc.store.follow import Position
from mdc.store.streams import Stream
from mdc.v1.market_data_pb2 import EventBatch

D = Decimal
BTC = Stream("binance", "trades", "BTC-USDT")
ETH = Stream("binance", "trades", "ETH-USDT")
VENUES = ("binance", "kraken")


def sub(kind=Kind.TRADES, **kw):
    args = {"venues": (), "symbols": (), "start": Live(), "policy": None}
    return subscription(kind, **(args | kw), known_venues=VENUES)


# --- subscription ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "kw", "field"),
    [
        (Kind.TRADES, {"venues": ("binance", "nasdaq")}, "venues"),
        (Kind.TRADES, {"symbols": ("BTC [x",)}, "symbols"),
        (Kind.TRADES, {"symbols": ("",)}, "symbols"),
        (Kind.QUOTES, {"symbols": ("BTC-USDT", "a b")}, "symbols"),
        (Kind.DEPTH, {"levels": 0}, "levels"),
        (Kind.DEPTH, {"levels": 1001}, "levels"),
        (Kind.BARS, {"interval_s": 5}, "interval_s"),
        (Kind.TRADES, {"start": FromTime(-1)}, "start.time_ns"),
    ],
)
def test_a_bad_request_names_the_field_at_fault(kind, kw, field):
    with pytest.raises(BadSubscription) as exc:
        sub(kind, **kw)
    assert exc.value.field == field
    assert not exc.value.out_of_range


def test_limits_are_inclusive_and_policy_defaults_per_kind():
    assert sub(Kind.DEPTH, levels=1).levels == 1
    assert sub(Kind.DEPTH, levels=1000, conflate_ms=5).conflate_ns == 5_000_000
    assert sub(Kind.BARS, interval_s=3600).interval_s == 3600
    assert sub(start=FromTime(0)).start == FromTime(0)
    for kind in Kind:
        s = sub(kind, levels=10, interval_s=60)
        assert s.policy is DEFAULT_POLICY[kind]
    assert DEFAULT_POLICY[Kind.TRADES] is Policy.DISCONNECT
    assert DEFAULT_POLICY[Kind.DEPTH] is Policy.CONFLATE
    assert sub(policy=Policy.DROP_WITH_GAP).policy is Policy.DROP_WITH_GAP


def test_wants_filters_by_family_venue_and_symbol_glob():
    depth = sub(Kind.DEPTH, levels=5)
    assert depth.wants(Stream("kraken", "book", "X"))
    assert not depth.wants(Stream("kraken", "trades", "X"))
    bars = sub(Kind.BARS, interval_s=60)
    assert bars.wants(BTC) and not bars.wants(Stream("binance", "bars", "BTC-USDT"))
    assert not sub(Kind.QUOTES).wants(BTC)

    s = sub(venues=("kraken",), symbols=("BTC-*", "SO?", "AAPL", "BRK.B"))
    k = lambda sym: Stream("kraken", "trades", sym)  # noqa: E731
    assert s.wants(k("BTC-USDT")) and s.wants(k("BTC-"))
    assert not s.wants(k("ETH-BTC")) and not s.wants(k("XBTC-USDT"))
    assert not s.wants(Stream("binance", "trades", "BTC-USDT"))
    assert s.wants(k("SOL")) and not s.wants(k("SO")) and not s.wants(k("SOLA"))
    assert s.wants(k("AAPL")) and not s.wants(k("AAPLX")) and not s.wants(k("AAP"))
    assert s.wants(k("BRK.B")) and not s.wants(k("BRKXB"))  # '.' is literal


def test_events_want_trades_book_and_the_venue_wide_status_of_the_chosen_instruments():
    events = sub(Kind.EVENTS, venues=("kraken",), symbols=("BTC-*",))
    assert events.policy is Policy.DISCONNECT
    for family in ("trades", "book", "status"):
        assert events.wants(Stream("kraken", family, "BTC-USD"))
    assert events.wants(Stream("kraken", "status", ""))  # the connection's gaps and states
    assert not events.wants(Stream("kraken", "quotes", "BTC-USD"))
    assert not events.wants(Stream("kraken", "trades", "ETH-USD"))
    assert not events.wants(Stream("binance", "status", ""))
    assert not sub(Kind.TRADES, symbols=("BTC-*",)).wants(Stream("kraken", "status", ""))
    with pytest.raises(BadSubscription) as exc:
        sub(Kind.EVENTS, policy=Policy.CONFLATE)
    assert exc.value.field == "policy"


def test_parse_position_rejects_junk_and_round_trips_tokens():
    for junk in ("not a token!", "AAAA", ""):
        with pytest.raises(BadSubscription) as exc:
            parse_position(junk)
        assert exc.value.field == "start.position"
    pos = Position.of({BTC: 7, ETH: 3})
    assert parse_position(pos.token()) == pos


def test_check_position_against_the_log():
    ends, firsts = {BTC: 100, ETH: 50}, {BTC: 10}
    check_position(Position.of({BTC: 10, ETH: 50}), ends, firsts)
    check_position(Position.of({BTC: 100}), ends, firsts)
    for bad in ({BTC: 101}, {BTC: 9}, {Stream("kraken", "trades", "X"): 1}):
        with pytest.raises(BadSubscription) as exc:
            check_position(Position.of(bad), ends, firsts)
        assert exc.value.field == "start.position" and exc.value.out_of_range


# --- outbox ---------------------------------------------------------------------------------


def item(stream: Stream, seq: int) -> Item:
    return Item((stream.venue, stream.symbol), stream, seq, f"{stream.symbol}:{seq}".encode())


def gap_enc(calls: list):
    def enc(stream, first, last, count):
        calls.append((stream, first, last, count))
        return f"gap {stream.symbol} {first}-{last}".encode()

    return enc


START = Position.start()


def box(policy: Policy, capacity: int, start: Position = START, calls=None) -> Outbox:
    return Outbox(policy, capacity, start, gap_enc([] if calls is None else calls))


def drain(ob: Outbox, n: int = 1000) -> list[bytes]:
    got = ob.pop(n)
    return [] if got is None else got[0]


def test_fifo_and_the_position_after_each_pop():
    other = Stream("kraken", "trades", "SOL")
    ob = box(Policy.DISCONNECT, 10, Position.of({other: 42, BTC: 5}))
    assert ob.pop(5) is None
    for it in (item(BTC, 5), item(ETH, 0), item(BTC, 6), item(ETH, 1)):
        ob.push(it)
    out, pos = ob.pop(2)
    assert out == [b"BTC-USDT:5", b"ETH-USDT:0"]
    assert pos == Position.of({other: 42, BTC: 6, ETH: 1})
    out, pos = ob.pop(10)
    assert out == [b"BTC-USDT:6", b"ETH-USDT:1"]
    assert pos == ob.position == Position.of({other: 42, BTC: 7, ETH: 2})
    assert ob.pop(1) is None and len(ob) == 0


def test_conflate_keeps_the_oldest_then_the_latest_per_key():
    ob = box(Policy.CONFLATE, 3)
    for seq in range(10):
        ob.push(item(BTC, seq))
        ob.push(item(ETH, seq))
        assert len(ob) <= 3 + 2
    assert ob.conflated == 15  # 20 pushed, 3 queued, 2 latest kept
    out, pos = ob.pop(3)
    assert out == [b"BTC-USDT:0", b"ETH-USDT:0", b"BTC-USDT:1"]
    assert pos == Position.of({BTC: 2, ETH: 1})
    # The queue is empty but the map is not: new items still go to the map, no overtaking.
    ob.push(item(BTC, 10))
    assert ob.conflated == 16 and len(ob) == 2
    out, pos = ob.pop(10)
    assert sorted(out) == [b"BTC-USDT:10", b"ETH-USDT:9"]
    assert pos == Position.of({BTC: 11, ETH: 10})
    ob.push(item(ETH, 10))  # room again: queued
    assert drain(ob) == [b"ETH-USDT:10"] and ob.conflated == 16


def test_conflate_per_key_order_is_kept_through_partial_pops():
    ob = box(Policy.CONFLATE, 2)
    sent = []
    for seq in range(50):
        ob.push(item(BTC, seq))
        if seq % 7 == 0:
            sent += drain(ob, 1)
        assert len(ob) <= 2 + 1
    sent += drain(ob) + drain(ob) + drain(ob)
    seqs = [int(f.split(b":")[1]) for f in sent]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert seqs[-1] == 49 and ob.position == Position.of({BTC: 50})


def test_drop_with_gap_announces_one_gap_per_stream_before_newer_items():
    calls: list = []
    ob = box(Policy.DROP_WITH_GAP, 2, calls=calls)
    ob.push(item(BTC, 0))
    ob.push(item(ETH, 0))
    for seq in (1, 2, 3):
        ob.push(item(BTC, seq))
    ob.push(item(ETH, 1))
    assert ob.dropped == 4 and len(ob) == 2 and calls == []
    assert drain(ob, 1) == [b"BTC-USDT:0"]
    ob.push(item(BTC, 4))  # room: the gaps go first
    assert calls == [(BTC, 1, 3, 3), (ETH, 1, 1, 1)]
    out, pos = ob.pop(10)
    assert out == [b"ETH-USDT:0", b"gap BTC-USDT 1-3", b"gap ETH-USDT 1-1", b"BTC-USDT:4"]
    assert pos == Position.of({BTC: 5, ETH: 2})


def test_drop_with_gap_announces_on_pop_when_nothing_newer_comes():
    calls: list = []
    ob = box(Policy.DROP_WITH_GAP, 1, Position.of({BTC: 5}), calls)
    for seq in (5, 6, 7):
        ob.push(item(BTC, seq))
    assert ob.pop(10) == ([b"BTC-USDT:5"], Position.of({BTC: 6}))
    assert ob.pop(10) == ([b"gap BTC-USDT 6-7"], Position.of({BTC: 8}))
    assert calls == [(BTC, 6, 7, 2)] and ob.pop(10) is None


def test_disconnect_stops_taking_items_and_says_why():
    ob = box(Policy.DISCONNECT, 2)
    ob.push(item(BTC, 0))
    ob.push(item(BTC, 1))
    assert ob.overflow is None
    ob.push(item(BTC, 2))
    assert ob.overflow is not None and "resume" in ob.overflow
    assert drain(ob) == [b"BTC-USDT:0", b"BTC-USDT:1"]
    ob.push(item(BTC, 3))
    assert ob.pop(10) is None and ob.position == Position.of({BTC: 2})


def test_an_outbox_holds_at_least_one_item():
    with pytest.raises(LocalMisuse):
        box(Policy.CONFLATE, 0)


# --- encode ---------------------------------------------------------------------------------

EVENTS = [
    Trade("binance", "BTC-USDT", 2, 3, D("27123.5"), D("0.10000000"), "buy", 17),
    Trade("kraken", "BTC-USD", 2, 3, D("1.00"), D("2"), "unknown", None),
    Trade("alpaca", "AAPL", 2, 3, D("190.01"), D("100"), "sell", 0, "V", ("@", "I"), "C", True),
    Quote("alpaca", "AAPL", 5, 6, D("1.10"), D("3"), None, None, "Q", None, ("R",), "C", 0),
    Quote("binance", "ETH-USDT", 5, 6, None, None, D("2000.00"), D("0.0"), update_id=9),
    Bar(
        "alpaca", "AAPL", 60, 61, D("1.0"), D("2.50"), D("0.5"), D("2"), D("1000"), 60, 12, D("1.7")
    ),
    Bar("binance", "BTC-USDT", 0, 1, D("1"), D("1"), D("1"), D("1"), D("0"), 1),
    Gap("binance", "BTC-USDT", 5, 6, "trades", "id jump", 100, 120, 4),
    Gap("kraken", "", 5, 6, "connection", "reconnect", from_ts=0),
    DepthView("b", "X", 1, 2, ((D("99.50"), D("1")),), ((D("100"), D("0.010")),), True, 0),
    DepthView("b", "X", 1, 2, (), (), False),
    SkippedGap("b", "X", 1, 2, "subscriber", "slow", 3, 9, skipped_stream="b+book+X"),
    BookSnapshot("kraken", "BTC-USD", 1, 2, ((D("99.5"), D("1.0")),), ((D("100"), D("2")),), 7, 3),
    BookSnapshot("b", "X", 1, 2, (), ()),
    BookDelta("binance", "BTC-USDT", 1, 2, ((D("99.50"), D("0")),), (), 10, 12),
    BookDelta("kraken", "BTC-USD", 1, 2, (), ((D("100.1"), D("0.5")),), checksum=4294967295),
    Status("b", "", 1, 2, "connected"),
    Status("b", "X", 1, 2, "in_sync", "snapshot 7"),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_proto_round_trip_is_exact(event):
    msg = to_proto(event, BTC, 42)
    assert (msg.stream, msg.seq) == ("binance+trades+BTC-USDT", 42)
    back = from_proto(type(msg).FromString(msg.SerializeToString()))
    assert type(back) is type(event) and back == event
    assert to_json(back) == to_json(event)  # same decimal text, trailing zeros included


def test_decimals_travel_as_their_exact_text():
    msg = to_proto(EVENTS[0])
    assert (msg.trade.price, msg.trade.size) == ("27123.5", "0.10000000")
    assert not msg.trade.HasField("exchange") and msg.stream == "" and msg.seq == 0
    assert not to_proto(EVENTS[4]).quote.HasField("bid_price")
    assert str(from_proto(msg).size) == "0.10000000"


def test_framed_entries_and_position_make_an_event_batch():
    token = Position.of({BTC: 43}).token()
    entries = [framed(e, BTC, i) for i, e in enumerate(EVENTS)]
    batch = EventBatch.FromString(batch_bytes(entries, token))
    assert batch.position == token
    assert [from_proto(m) for m in batch.events] == EVENTS
    assert [m.seq for m in batch.events] == list(range(len(EVENTS)))
    assert {m.stream for m in batch.events} == {BTC.dirname}
    empty = EventBatch.FromString(batch_bytes([], token))
    assert list(empty.events) == [] and empty.position == token


def test_a_large_event_is_framed_with_a_multibyte_length():
    big = DepthView("b", "X", 1, 2, tuple((D(i), D("1.5")) for i in range(500)), (), True)
    batch = EventBatch.FromString(batch_bytes([framed(big, None, 1), framed(big, None, 2)], "p"))
    assert [from_proto(m) for m in batch.events] == [big, big]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_json_line_is_the_normalize_json_plus_position(event):
    line = to_json_line(event, "tok_-1")
    assert b"\n" not in line
    assert json.loads(line) == json.loads(to_json(event)) | {"position": "tok_-1"}


def test_an_event_of_no_streamed_kind_is_refused():
    with pytest.raises(ValueError, match="not streamed"):
        to_proto(object())  # type: ignore[arg-type]
