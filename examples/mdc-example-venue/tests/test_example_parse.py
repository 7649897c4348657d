"""The parser on its own: bytes in, events out (no Session, no network)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from mdc_example_venue import TRADE_CONDITIONS, ExampleVenue
from recordings import CONFIG, SYMBOL, recorded, reply

from mdc.errors import MalformedMessage
from mdc.events import BookDelta, BookSnapshot, Trade
from mdc.sync import FetchTrades, NeedSnapshot
from mdc.venues.base import Dropped, Heartbeat, HttpGet, Subscribed, VenueError

TRADE = (
    b'{"type":"trade","symbol":"BTC-USD","id":7,"price":"42500.10","size":"0.00100000",'
    b'"side":"sell","ts":1700000000123}'
)


def test_a_trade_keeps_the_venues_exact_text(venue: ExampleVenue) -> None:
    [trade] = venue.read(TRADE, 99)
    assert trade == Trade(
        "example",
        SYMBOL,
        1_700_000_000_123_000_000,
        99,
        Decimal("42500.10"),
        Decimal("0.00100000"),
        "sell",
        7,
        conditions=TRADE_CONDITIONS,
    )
    assert str(trade.price) == "42500.10"  # trailing zeros kept: exact, never a float


def test_book_events_are_named_by_seq(venue: ExampleVenue) -> None:
    frames = recorded("stream.jsonl")
    [snapshot] = venue.read(frames[1], 0)
    [delta] = venue.read(frames[2], 0)
    assert isinstance(snapshot, BookSnapshot) and snapshot.update_id == 79913572
    assert snapshot.bids[0] == (Decimal("42500"), Decimal("0.00364047"))
    assert isinstance(delta, BookDelta)
    assert (delta.first_update_id, delta.last_update_id) == (79913573, 79913573)
    assert delta.bids == ((Decimal("42499.98"), Decimal("0.00232645")),) and delta.asks == ()


def test_the_recorded_stream_reads_whole(venue: ExampleVenue) -> None:
    events = [e for frame in recorded("stream.jsonl") for e in venue.parse(frame, 0)]
    trades = [e for e in events if isinstance(e, Trade)]
    assert [type(e) for e in events].count(BookSnapshot) == 1
    assert [type(e) for e in events].count(BookDelta) == 10
    assert [t.trade_id for t in trades] == list(range(6985377, 6985387))


def test_controls_say_what_the_connection_does(venue: ExampleVenue) -> None:
    assert venue.read(recorded("stream.jsonl")[0], 0) == [Subscribed("trades,book for BTC-USD")]
    beat = b'{"type":"heartbeat","symbol":"BTC-USD","ts":1,"last_trade_id":41}'
    assert venue.read(beat, 0) == [Heartbeat(SYMBOL, 41)]
    error = b'{"type":"error","code":401,"message":"bad key","fatal":true}'
    assert venue.read(error, 0) == [VenueError(401, "bad key", permanent=True)]


def test_a_type_this_version_does_not_know_is_left_out_and_said(venue: ExampleVenue) -> None:
    [dropped] = venue.read(b'{"type":"announcement","text":"maintenance at noon"}', 0)
    assert isinstance(dropped, Dropped) and "announcement" in dropped.reason


@pytest.mark.parametrize(
    "frame",
    [
        b"not json",
        b'{"symbol":"BTC-USD"}',
        b'{"type":"trade","symbol":"BTC-USD","price":"1","size":"1","side":"buy","ts":1}',
        TRADE.replace(b'"sell"', b'"both"'),
        TRADE.replace(b'"42500.10"', b'"forty"'),
        TRADE.replace(b'"42500.10"', b'"NaN"'),
        TRADE.replace(b'"0.00100000"', b'"-1"'),
        b'{"type":"delta","symbol":"BTC-USD","seq":1,"ts":1,"bids":[["1"]],"asks":[]}',
        b'{"type":"book","symbol":"BTC-USD","seq":-1,"ts":1,"bids":[],"asks":[]}',
    ],
)
def test_a_malformed_message_is_refused_whole(venue: ExampleVenue, frame: bytes) -> None:
    with pytest.raises(MalformedMessage):
        venue.read(frame, 0)


def test_the_rest_depth_reply_is_a_snapshot(venue: ExampleVenue) -> None:
    [request] = venue.snapshot_request(NeedSnapshot(SYMBOL, "gap"), CONFIG)
    assert request == HttpGet("snapshot", SYMBOL, "/depth", (("symbol", SYMBOL),))
    [snapshot] = venue.read_response(request, reply("rest_depth.json"), 5)
    assert isinstance(snapshot, BookSnapshot) and snapshot.update_id == 79913584
    assert len(snapshot.bids) == len(snapshot.asks) == 5


def test_a_backfill_asks_for_exactly_the_missing_ids(venue: ExampleVenue) -> None:
    request = venue.trades_request(FetchTrades(SYMBOL, 6985377, 6985379), CONFIG)
    assert request is not None
    assert dict(request.params) == {"symbol": SYMBOL, "from_id": "6985377", "limit": "3"}
    events = venue.read_response(request, reply("rest_trades.json"), 5)
    assert [t.trade_id for t in events if isinstance(t, Trade)] == [6985377, 6985378, 6985379]
    assert all(t.conditions == TRADE_CONDITIONS for t in events if isinstance(t, Trade))


def test_a_full_page_asks_for_the_next_one(venue: ExampleVenue) -> None:
    request = venue.trades_request(FetchTrades(SYMBOL, 6985377, None), CONFIG)
    assert request is not None and dict(request.params)["limit"] == "1000"
    page_of_3 = replace(request, params=(*request.params[:2], ("limit", "3")))
    *trades, follow_up = venue.read_response(page_of_3, reply("rest_trades.json"), 5)
    assert len(trades) == 3 and isinstance(follow_up, HttpGet)
    assert dict(follow_up.params)["from_id"] == "6985380"
    short_page = venue.read_response(request, reply("rest_trades.json"), 5)
    assert not [e for e in short_page if isinstance(e, HttpGet)]


def test_a_rest_reply_that_is_not_the_documented_shape_is_malformed(venue: ExampleVenue) -> None:
    request = venue.trades_request(FetchTrades(SYMBOL, 1, 2), CONFIG)
    assert request is not None
    with pytest.raises(MalformedMessage):
        venue.read_response(request, b'{"code":400,"message":"unknown symbol"}', 0)
