"""Kraken wire shapes (specs/exchanges.md section 3): WebSocket v2 and v1 messages, REST replies.

Prices are `Price` (read as text by the fast decoders, see mdc.venues.decimals).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

import msgspec

from mdc.venues.decimals import Price

# -- v2 wire structs -------------------------------------------------------------------------


class V2Level(msgspec.Struct, gc=False):
    price: Price
    qty: Decimal


class V2Book(msgspec.Struct, gc=False):
    symbol: str
    bids: list[V2Level]
    asks: list[V2Level]
    checksum: int
    timestamp: str | None = None


class V2Trade(msgspec.Struct, gc=False):
    symbol: str
    side: Literal["buy", "sell"]
    price: Price
    qty: Decimal
    ord_type: str
    trade_id: int
    timestamp: str


class V2Ticker(msgspec.Struct, gc=False):
    symbol: str
    bid: Decimal
    bid_qty: Decimal
    ask: Decimal
    ask_qty: Decimal
    timestamp: str | None = None


class V2Status(msgspec.Struct, gc=False):
    system: str


class Bare(msgspec.Struct, gc=False):
    """A channel message whose content we do not use (heartbeat, instrument)."""

    channel: str


def v2_message(row: type) -> type:
    """`{"channel", "type", "data": [row, ...]}` as one struct, so one pass decodes it all."""
    fields = [("channel", str), ("type", Literal["snapshot", "update"]), ("data", list[row])]
    return msgspec.defstruct(f"{row.__name__}Message", fields, gc=False)


class MethodResult(msgspec.Struct, gc=False):
    channel: str | None = None
    symbol: str | list[str] | None = None


class Envelope(msgspec.Struct, gc=False):
    """Any JSON object: a v2 method response, a v1 event, or a v2 channel message (rare order)."""

    channel: str | None = None
    method: str | None = None
    success: bool | None = None
    error: str | None = None
    result: MethodResult | None = None
    event: str | None = None
    status: str | None = None
    errorMessage: str | None = None  # wire name
    channelName: str | None = None
    pair: str | None = None


# -- v1 wire structs: array messages [channelID, payload..., channelName, pair] --------------


class V1Level(msgspec.Struct, array_like=True, gc=False):
    price: Price
    qty: Decimal
    timestamp: str
    flag: str = ""  # "r": a level republished into scope after a removal


class V1Book(msgspec.Struct, gc=False):
    as_: list[V1Level] | None = msgspec.field(default=None, name="as")
    bs: list[V1Level] | None = None
    a: list[V1Level] = []
    b: list[V1Level] = []
    c: str | None = None


class V1Trade(msgspec.Struct, array_like=True, gc=False):
    price: Price
    volume: Decimal
    time: str
    side: Literal["b", "s"]
    order_type: Literal["m", "l"]
    misc: str


class V1Spread(msgspec.Struct, array_like=True, gc=False):
    bid: Decimal
    ask: Decimal
    timestamp: str
    bid_volume: Decimal | None = None
    ask_volume: Decimal | None = None


class V1Ticker(msgspec.Struct, gc=False):
    a: tuple[Decimal, Decimal, Decimal]  # price, whole lot volume, lot volume
    b: tuple[Decimal, Decimal, Decimal]


# -- REST ------------------------------------------------------------------------------------


class RestTrade(msgspec.Struct, array_like=True, gc=False):
    price: Decimal
    volume: Decimal
    time: Decimal  # a JSON number with up to 7 fraction digits
    side: Literal["b", "s"]
    order_type: Literal["m", "l"]
    misc: str
    trade_id: int


class RestTrades(msgspec.Struct, gc=False):
    error: list[str]
    result: dict[str, list[RestTrade] | str] = {}


class RestLevel(msgspec.Struct, array_like=True, gc=False):
    price: Decimal
    volume: Decimal
    timestamp: int


class RestBook(msgspec.Struct, gc=False):
    asks: list[RestLevel]
    bids: list[RestLevel]


class RestDepth(msgspec.Struct, gc=False):
    error: list[str]
    result: dict[str, RestBook] = {}
