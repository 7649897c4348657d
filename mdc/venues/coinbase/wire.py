"""Coinbase wire shapes (specs/exchanges.md section 2): Exchange ws-feed, Advanced Trade, REST.

Prices are `Price` (read as text by the fast decoders, see mdc.venues.decimals).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

import msgspec

from mdc.venues.decimals import Price, PriceLevel

# -- Exchange ws-feed ---------------------------------------------------------------------------


class Match(msgspec.Struct, gc=False):
    trade_id: int
    side: Literal["buy", "sell"]
    size: Decimal
    price: Price
    product_id: str
    sequence: int
    time: str


class Ticker(msgspec.Struct, gc=False):
    sequence: int
    product_id: str
    time: str | None = None
    best_bid: Decimal | None = None
    best_bid_size: Decimal | None = None
    best_ask: Decimal | None = None
    best_ask_size: Decimal | None = None


class Snapshot(msgspec.Struct, gc=False):
    product_id: str
    bids: tuple[PriceLevel, ...]
    asks: tuple[PriceLevel, ...]
    time: str | None = None


class L2Update(msgspec.Struct, gc=False):
    product_id: str
    changes: tuple[tuple[Literal["buy", "sell"], Price, Decimal], ...]
    time: str


class ExHeartbeat(msgspec.Struct, gc=False):
    sequence: int
    last_trade_id: int
    product_id: str


class ExChannel(msgspec.Struct, gc=False):
    name: str
    product_ids: list[str] | None = None


class ExSubscriptions(msgspec.Struct, gc=False):
    channels: list[ExChannel]


class Error(msgspec.Struct, gc=False):
    message: str
    reason: str = ""


# -- Advanced Trade -----------------------------------------------------------------------------


class AtLevel(msgspec.Struct, gc=False):
    side: Literal["bid", "offer"]
    price_level: Price
    new_quantity: Decimal
    event_time: str | None = None


class AtBookEvent(msgspec.Struct, gc=False):
    type: Literal["snapshot", "update"]
    product_id: str
    updates: tuple[AtLevel, ...]


class AtTrade(msgspec.Struct, gc=False):
    trade_id: str
    product_id: str
    price: Price
    size: Decimal
    side: Literal["BUY", "SELL"]
    time: str


class AtTradeEvent(msgspec.Struct, gc=False):
    trades: tuple[AtTrade, ...]


class AtTicker(msgspec.Struct, gc=False):
    product_id: str
    best_bid: Decimal | None = None
    best_bid_quantity: Decimal | None = None
    best_ask: Decimal | None = None
    best_ask_quantity: Decimal | None = None


class AtTickerEvent(msgspec.Struct, gc=False):
    tickers: tuple[AtTicker, ...]


class AtSubscriptionsEvent(msgspec.Struct, gc=False):
    subscriptions: dict[str, list[str]]


def at_envelope(name: str, event: type | None) -> type:
    """An AT envelope whose `events` decode as `event` in the same pass (None: not decoded)."""
    fields: list[tuple] = [("timestamp", str), ("sequence_num", int)]
    if event is not None:
        fields.append(("events", tuple[event, ...]))
    return msgspec.defstruct(name, fields, gc=False)


AtBook = at_envelope("AtBook", AtBookEvent)
AtTrades = at_envelope("AtTrades", AtTradeEvent)
AtTickers = at_envelope("AtTickers", AtTickerEvent)
AtSubscriptions = at_envelope("AtSubscriptions", AtSubscriptionsEvent)
AtBare = at_envelope("AtBare", None)


class Envelope(msgspec.Struct, gc=False):
    """Only what routes a message whose first key is not `type` or `channel`."""

    type: str | None = None
    channel: str | None = None


# -- REST ---------------------------------------------------------------------------------------


class RestTrade(msgspec.Struct, gc=False):
    trade_id: int | str
    side: Literal["buy", "sell"]
    size: Decimal
    price: Decimal
    time: str


class RestBook(msgspec.Struct, gc=False):
    sequence: int
    bids: tuple[tuple[Decimal, Decimal, int], ...]
    asks: tuple[tuple[Decimal, Decimal, int], ...]
    time: str | None = None
