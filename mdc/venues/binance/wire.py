"""Binance wire shapes (specs/exchanges.md section 1): websocket payloads and REST replies.

Prices are `Price` (read as text by the fast decoders, see mdc.venues.decimals).
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from mdc.events import Level
from mdc.venues.decimals import Price, PriceLevel

# -- websocket ----------------------------------------------------------------------------------


class _Trade(msgspec.Struct, gc=False):
    s: str
    t: int
    p: Price
    q: Decimal
    T: int
    m: bool


class _AggTrade(msgspec.Struct, gc=False):
    s: str
    a: int
    p: Price
    q: Decimal
    T: int
    m: bool


class _Depth(msgspec.Struct, gc=False):
    E: int
    s: str
    U: int
    u: int
    b: tuple[PriceLevel, ...]
    a: tuple[PriceLevel, ...]


class _BookTicker(msgspec.Struct, gc=False):
    u: int
    s: str
    b: Price
    B: Decimal
    a: Price
    A: Decimal
    E: int | None = None
    T: int | None = None


class _Kline(msgspec.Struct, gc=False):
    t: int
    i: str
    o: Decimal
    h: Decimal
    l: Decimal  # noqa: E741 - the venue's field name
    c: Decimal
    v: Decimal
    n: int
    x: bool
    q: Decimal | None = None


class _KlineEvent(msgspec.Struct, gc=False):
    s: str
    k: _Kline


class _Envelope(msgspec.Struct, gc=False):
    """Either a combined-stream frame, a bare payload (routed by `e`), an ack or an error."""

    stream: str | None = None
    data: msgspec.Raw = msgspec.Raw(b"")
    e: str | None = None
    u: int | None = None
    id: int | str | None = None
    code: int | None = None
    msg: str | None = None
    error: msgspec.Raw = msgspec.Raw(b"")


_STREAM_PREFIX = b'{"stream":"'


def _frame_of(payload: type) -> type:
    """A combined-stream frame type whose `data` is `payload`, so one decode pass does both."""
    return msgspec.defstruct(f"{payload.__name__}Frame", [("data", payload)], gc=False)


# -- REST ---------------------------------------------------------------------------------------


class _DepthSnapshot(msgspec.Struct, gc=False):
    lastUpdateId: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]


class _HistoricalTrade(msgspec.Struct, gc=False):
    id: int
    price: Decimal
    qty: Decimal
    time: int
    isBuyerMaker: bool


class _RestAggTrade(msgspec.Struct, gc=False):
    a: int
    p: Decimal
    q: Decimal
    T: int
    m: bool


class _ErrorBody(msgspec.Struct, gc=False):
    code: int
    msg: str
