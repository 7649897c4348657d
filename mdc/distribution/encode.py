"""The wire forms of streamed events: protobuf (`mdc.v1.Event`) and JSON (`mdc normalize`'s
shape plus `position`), built once per event whatever the number of subscribers.

`framed(event, stream, seq)` is an event already encoded as one entry of `EventBatch.events`
(field 1: tag, length, bytes), so a subscriber's batch is the concatenation of the entries it
gets plus the position field: no message is built or serialized per subscriber
(`batch_bytes`). `from_proto` is the inverse of the encoding (clients turn what they receive
back into mdc's events, so their JSON is `mdc normalize`'s).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import msgspec

from mdc.events import Bar, BookDelta, BookSnapshot, Event, Gap, Level, Quote, Status, Trade
from mdc.store.streams import Stream
from mdc.v1 import market_data_pb2 as pb

EVENTS_FIELD = b"\x0a"  # EventBatch.events: field 1, length-delimited
POSITION_FIELD = b"\x12"  # EventBatch.position: field 2, length-delimited


class DepthView(Event, frozen=True, gc=False, tag="depth"):
    """The top levels of one book after a stored book event (derived: never stored)."""

    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    in_sync: bool
    update_id: int | None = None


class SkippedGap(Event, frozen=True, gc=False, tag="gap"):
    """A gap in one subscription: `skipped_stream`'s seqs from_id..to_id were not sent to it
    because it fell behind (subscribe from an older position to get them)."""

    stream: str
    reason: str
    from_id: int | None
    to_id: int | None
    from_ts: int | None = None
    skipped_stream: str = ""


def varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def framed(event: Event, stream: Stream | None, seq: int) -> bytes:
    """`event` as one `EventBatch.events` entry, stored at (`stream`, `seq`)."""
    data = to_proto(event, stream, seq).SerializeToString()
    return EVENTS_FIELD + varint(len(data)) + data


def batch_bytes(entries: Iterable[bytes], position: str) -> bytes:
    """A serialized `EventBatch` of framed entries and a resume position token."""
    token = position.encode("ascii")
    return b"".join(entries) + POSITION_FIELD + varint(len(token)) + token


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _levels(levels: Iterable[Level]) -> list[pb.Level]:
    return [pb.Level(price=str(p), size=str(s)) for p, s in levels]


def to_proto(event: Event, stream: Stream | None = None, seq: int = 0) -> pb.Event:
    """The `Event` message of `event` (one constructor call: the cheapest way through upb)."""
    kind, body = _body(event)
    return pb.Event(
        venue=event.venue,
        symbol=event.symbol,
        ts_event=event.ts_event,
        ts_recv=event.ts_recv,
        stream=stream.dirname if stream is not None else "",
        seq=seq,
        **{kind: body},
    )


def _body(event: Event) -> tuple[str, object]:
    match event:
        case Trade():
            return "trade", pb.Trade(
                price=str(event.price),
                size=str(event.size),
                side=event.side,
                trade_id=event.trade_id,
                exchange=event.exchange,
                conditions=event.conditions,
                tape=event.tape,
                aggregate=event.aggregate,
            )
        case Quote():
            return "quote", pb.Quote(
                bid_price=_s(event.bid_price),
                bid_size=_s(event.bid_size),
                ask_price=_s(event.ask_price),
                ask_size=_s(event.ask_size),
                bid_exchange=event.bid_exchange,
                ask_exchange=event.ask_exchange,
                conditions=event.conditions,
                tape=event.tape,
                update_id=event.update_id,
            )
        case DepthView():
            return "depth", pb.Depth(
                bids=_levels(event.bids),
                asks=_levels(event.asks),
                in_sync=event.in_sync,
                update_id=event.update_id,
            )
        case Bar():
            return "bar", pb.Bar(
                open=str(event.open),
                high=str(event.high),
                low=str(event.low),
                close=str(event.close),
                volume=str(event.volume),
                interval_s=event.interval_s,
                trade_count=event.trade_count,
                vwap=_s(event.vwap),
            )
        case Gap() | SkippedGap():
            return "gap", pb.Gap(
                stream=event.stream,
                reason=event.reason,
                from_id=event.from_id,
                to_id=event.to_id,
                from_ts=event.from_ts,
                skipped_stream=getattr(event, "skipped_stream", ""),
            )
        case BookSnapshot() | BookDelta():
            return "book", _book_update(event)
        case Status():
            return "status", pb.Status(state=event.state, detail=event.detail)
    raise ValueError(f"{type(event).__name__} is not streamed")


def _book_update(event: BookSnapshot | BookDelta) -> pb.BookUpdate:
    if isinstance(event, BookSnapshot):
        ids = {"snapshot": True, "update_id": event.update_id}
    else:
        ids = {"first_update_id": event.first_update_id, "last_update_id": event.last_update_id}
    bids, asks = _levels(event.bids), _levels(event.asks)
    return pb.BookUpdate(bids=bids, asks=asks, checksum=event.checksum, **ids)


def _opt(msg: object, name: str) -> object:
    return getattr(msg, name) if msg.HasField(name) else None  # type: ignore[attr-defined]


def _dec(msg: object, name: str) -> Decimal | None:
    value = _opt(msg, name)
    return None if value is None else Decimal(value)  # type: ignore[arg-type]


def _from_levels(levels: Iterable[pb.Level]) -> tuple[Level, ...]:
    return tuple((Decimal(level.price), Decimal(level.size)) for level in levels)


def from_proto(msg: pb.Event) -> Event:
    """The mdc event a streamed `Event` message carries."""
    head = (msg.venue, msg.symbol, msg.ts_event, msg.ts_recv)
    kind = msg.WhichOneof("kind")
    if kind == "trade":
        t = msg.trade
        return Trade(
            *head,
            Decimal(t.price),
            Decimal(t.size),
            t.side,  # type: ignore[arg-type]
            _opt(t, "trade_id"),  # type: ignore[arg-type]
            _opt(t, "exchange"),  # type: ignore[arg-type]
            tuple(t.conditions),
            _opt(t, "tape"),  # type: ignore[arg-type]
            t.aggregate,
        )
    if kind == "quote":
        q = msg.quote
        return Quote(
            *head,
            _dec(q, "bid_price"),
            _dec(q, "bid_size"),
            _dec(q, "ask_price"),
            _dec(q, "ask_size"),
            _opt(q, "bid_exchange"),  # type: ignore[arg-type]
            _opt(q, "ask_exchange"),  # type: ignore[arg-type]
            tuple(q.conditions),
            _opt(q, "tape"),  # type: ignore[arg-type]
            _opt(q, "update_id"),  # type: ignore[arg-type]
        )
    if kind == "depth":
        d = msg.depth
        return DepthView(
            *head, _from_levels(d.bids), _from_levels(d.asks), d.in_sync, _opt(d, "update_id")
        )  # type: ignore[arg-type]
    if kind == "bar":
        b = msg.bar
        return Bar(
            *head,
            Decimal(b.open),
            Decimal(b.high),
            Decimal(b.low),
            Decimal(b.close),
            Decimal(b.volume),
            b.interval_s,
            _opt(b, "trade_count"),  # type: ignore[arg-type]
            _dec(b, "vwap"),
        )
    if kind == "gap":
        g = msg.gap
        fields = (g.stream, g.reason, _opt(g, "from_id"), _opt(g, "to_id"), _opt(g, "from_ts"))
        if g.skipped_stream:
            return SkippedGap(*head, *fields, skipped_stream=g.skipped_stream)  # type: ignore[arg-type]
        return Gap(*head, *fields)  # type: ignore[arg-type]
    if kind == "book":
        return _book_from_proto(head, msg.book)
    if kind == "status":
        return Status(*head, msg.status.state, msg.status.detail)  # type: ignore[arg-type]
    raise ValueError(f"an Event message with no kind ({msg.venue} {msg.symbol})")


def _book_from_proto(head: tuple[str, str, int, int], b: pb.BookUpdate) -> Event:
    bids, asks, checksum = _from_levels(b.bids), _from_levels(b.asks), _opt(b, "checksum")
    if b.snapshot:
        return BookSnapshot(*head, bids, asks, _opt(b, "update_id"), checksum)  # type: ignore[arg-type]
    first, last = _opt(b, "first_update_id"), _opt(b, "last_update_id")
    return BookDelta(*head, bids, asks, first, last, checksum)  # type: ignore[arg-type]


_JSON = msgspec.json.Encoder(decimal_format="string")


def to_json_line(event: Event, position: str) -> bytes:
    """`mdc normalize`'s JSON object for `event`, plus `"position"` (a resume token)."""
    body = _JSON.encode(event)
    return body[:-1] + b',"position":' + _JSON.encode(position) + b"}"
