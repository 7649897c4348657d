"""The one event schema every part of mdc speaks.

Events are frozen msgspec Structs: typed, strict when decoded, and cheap to build on the hot path.
Prices and sizes are `Decimal` built straight from the venue's text (msgspec decodes both JSON
strings and JSON numbers into `Decimal` without going through float, trailing zeros kept), and
both encodings write them as decimal strings. Times are int nanoseconds since the Unix epoch, UTC:
`ts_event` is the venue's time, `ts_recv` the local receive time.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Literal

import msgspec

Side = Literal["buy", "sell", "unknown"]
BookSide = Literal["bid", "ask"]
Level = tuple[Decimal, Decimal]
"""(price, size) at one price level; size is the new absolute size, 0 removes the level."""


class Event(msgspec.Struct, frozen=True, gc=False, tag_field="type"):
    """Fields every event carries; `symbol` is BASE-QUOTE for crypto, the ticker for stocks."""

    venue: str
    symbol: str
    ts_event: int
    ts_recv: int


class Trade(Event, frozen=True, gc=False, tag="trade"):
    """One execution; `side` is the aggressor's side.

    `aggregate` marks a venue's aggregate of fills at one price (Binance aggTrade), whose ids live
    in a separate id space; `exchange` is the venue's own sub-exchange code (Alpaca `x`), part of
    the identity because such venues number trades per exchange. `trade_id` is None only for
    venues that send no id (Kraken websocket v1); such trades are identified by their content.
    """

    price: Decimal
    size: Decimal
    side: Side
    trade_id: int | None
    exchange: str | None = None
    conditions: tuple[str, ...] = ()
    tape: str | None = None
    aggregate: bool = False


class Quote(Event, frozen=True, gc=False, tag="quote"):
    """Top of book. A side the venue reports empty has price and size None."""

    bid_price: Decimal | None
    bid_size: Decimal | None
    ask_price: Decimal | None
    ask_size: Decimal | None
    bid_exchange: str | None = None
    ask_exchange: str | None = None
    conditions: tuple[str, ...] = ()
    tape: str | None = None
    update_id: int | None = None


class BookSnapshot(Event, frozen=True, gc=False, tag="book_snapshot"):
    """The whole (possibly depth-limited) L2 book; bids best first, asks best first."""

    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    update_id: int | None = None
    checksum: int | None = None


class BookDelta(Event, frozen=True, gc=False, tag="book_delta"):
    """All level changes of one venue message, applied together (checksums hold only after all).

    `first_update_id`/`last_update_id` are the venue's update-id range (Binance U/u) or the
    message's sequence number in both, where the venue has one; `checksum` is the venue's
    checksum of the book after this delta (Kraken).
    """

    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    first_update_id: int | None = None
    last_update_id: int | None = None
    checksum: int | None = None


class Bar(Event, frozen=True, gc=False, tag="bar"):
    """OHLCV over [ts_event, ts_event + interval_s); ts_event is the bar's start.

    Identified by content: a venue's corrected bar (Alpaca updatedBars) is kept beside the
    original, and the newer `ts_recv` wins for readers.
    """

    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    interval_s: int
    trade_count: int | None = None
    vwap: Decimal | None = None


GapStream = Literal["trades", "book", "quotes", "connection"]


class Gap(Event, frozen=True, gc=False, tag="gap"):
    """Data the venue published that we did not receive, or could not trust.

    `from_id`/`to_id` bound the missing ids inclusively where known (trade ids, update ids or
    sequence numbers); otherwise the gap spans `from_ts`..`ts_event` in venue time.
    """

    stream: GapStream
    reason: str
    from_id: int | None = None
    to_id: int | None = None
    from_ts: int | None = None


ProviderState = Literal[
    "connecting",
    "connected",
    "authenticated",
    "subscribed",
    "disconnected",
    "failed",
    "in_sync",
    "error",
]


class Status(Event, frozen=True, gc=False, tag="status"):
    """A change in a provider's or a stream's state; symbol "" means the whole connection."""

    state: ProviderState
    detail: str = ""


AnyEvent = Trade | Quote | BookSnapshot | BookDelta | Bar | Gap | Status
EVENT_TYPES: tuple[type[Event], ...] = (Trade, Quote, BookSnapshot, BookDelta, Bar, Gap, Status)
TYPE_NAMES: dict[type[Event], str] = {t: t.__struct_config__.tag for t in EVENT_TYPES}

_json_encoder = msgspec.json.Encoder(decimal_format="string")
_json_decoder = msgspec.json.Decoder(AnyEvent)
_msgpack_encoder = msgspec.msgpack.Encoder(decimal_format="string")
_msgpack_decoder = msgspec.msgpack.Decoder(AnyEvent)


def to_json(event: Event) -> bytes:
    """One JSON object with a `type` field; decimals as strings."""
    return _json_encoder.encode(event)


def from_json(data: bytes | str) -> AnyEvent:
    return _json_decoder.decode(data)


def to_msgpack(event: Event) -> bytes:
    return _msgpack_encoder.encode(event)


def from_msgpack(data: bytes) -> AnyEvent:
    return _msgpack_decoder.decode(data)


def type_name(event: Event) -> str:
    return TYPE_NAMES[type(event)]


def identity(event: Event) -> bytes:
    """A deterministic key that is equal for the same venue event however often it arrives.

    Built from the venue's own ids where it has them; otherwise from the content (everything but
    `ts_recv`), so a re-delivered copy of an id-less message still collapses onto the original.
    """
    head = f"{event.venue}|{event.symbol}|{type_name(event)}|"
    key = _natural_key(event)
    if key is None:
        content = _msgpack_encoder.encode(msgspec.structs.replace(event, ts_recv=0))
        key = "h" + hashlib.blake2b(content, digest_size=16).hexdigest()
    return (head + key).encode()


def _natural_key(event: Event) -> str | None:
    match event:
        case Trade() if event.trade_id is not None:
            space = "agg" if event.aggregate else (event.exchange or "")
            return f"{space}|{event.trade_id}"
        case BookSnapshot() if event.update_id is not None:
            return f"u{event.update_id}"
        case BookDelta() if event.last_update_id is not None:
            return f"u{event.first_update_id}-{event.last_update_id}"
        case Quote() if event.update_id is not None:
            return f"u{event.update_id}"
    return None
