"""The venue under mdc's Session: what the collector does with it (still bytes in, events and
outgoing requests out; the requests are answered here with recorded replies)."""

from __future__ import annotations

import json

from mdc_example_venue import ExampleVenue
from recordings import CONFIG, SYMBOL, recorded, reply

from mdc.events import Event, Gap, Status, Trade
from mdc.venues.base import HttpGet, SendText, Session


def feed(session: Session, frames: list[bytes]) -> list[Event]:
    return [e for i, frame in enumerate(frames) for e in session.receive(frame, i + 1)]


def gaps(events: list[Event], stream: str) -> list[Gap]:
    return [e for e in events if isinstance(e, Gap) and e.stream == stream]


def test_connecting_subscribes_every_symbol_and_channel(venue: ExampleVenue) -> None:
    session = Session(venue, CONFIG)
    [status] = session.connected(0)
    [frame] = session.outbox()
    assert isinstance(status, Status) and isinstance(frame, SendText)
    subscribe = {"op": "subscribe", "symbols": [SYMBOL], "channels": ["trades", "book"]}
    assert json.loads(frame.text) == subscribe


def test_the_recorded_stream_has_no_loss(session: Session) -> None:
    frames = recorded("stream.jsonl")
    events = feed(session, frames)
    assert not [e for e in events if isinstance(e, Gap)]
    book = session.books[SYMBOL]
    assert book.in_sync and book.last_update_id == 79913582
    assert session.outbox() == []


def test_a_lost_delta_is_a_gap_and_the_book_resyncs_from_rest(session: Session) -> None:
    frames = recorded("stream.jsonl")
    lost = next(i for i, f in enumerate(frames) if b'"seq":79913575' in f)
    events = feed(session, frames[:lost] + frames[lost + 1 :])
    [gap] = gaps(events, "book")
    assert gap.from_id == 79913575 and not session.books[SYMBOL].in_sync
    [request] = session.outbox()
    assert isinstance(request, HttpGet) and request.path == "/depth"
    session.http_response(request, 200, reply("rest_depth.json"), 99)
    book = session.books[SYMBOL]
    assert book.in_sync and book.last_update_id == 79913584


def test_a_lost_trade_is_a_gap_and_is_fetched_by_id(session: Session) -> None:
    frames = recorded("stream.jsonl")
    lost = next(i for i, f in enumerate(frames) if b'"id":6985378' in f)
    events = feed(session, frames[:lost] + frames[lost + 1 :])
    [gap] = gaps(events, "trades")
    assert (gap.from_id, gap.to_id) == (6985378, 6985378)
    [request] = session.outbox()
    assert isinstance(request, HttpGet) and dict(request.params)["from_id"] == "6985378"
    backfilled = session.http_response(request, 200, reply("rest_trades.json"), 99)
    assert [t.trade_id for t in backfilled if isinstance(t, Trade)] == [6985378]


def test_a_heartbeat_reveals_a_lost_last_trade(session: Session) -> None:
    feed(session, recorded("stream.jsonl"))
    beat = b'{"type":"heartbeat","symbol":"BTC-USD","ts":1700000001000,"last_trade_id":6985388}'
    session.receive(beat, 50)
    [request] = session.outbox()
    assert isinstance(request, HttpGet)
    assert dict(request.params) == {"symbol": SYMBOL, "from_id": "6985387", "limit": "2"}


def test_a_repeated_trade_is_passed_on_once(session: Session) -> None:
    frames = recorded("stream.jsonl")
    trade = next(f for f in frames if b'"type":"trade"' in f)
    events = feed(session, [trade, trade])
    assert len([e for e in events if isinstance(e, Trade)]) == 1


def test_a_fatal_venue_error_fails_the_session(session: Session) -> None:
    events = session.receive(b'{"type":"error","code":403,"message":"banned","fatal":true}', 1)
    assert [e.state for e in events if isinstance(e, Status)] == ["failed"]
    assert session.failure is not None
