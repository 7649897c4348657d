"""Builders: decoded wire messages (`wire`) -> mdc events and session controls.

Pure functions of one message and the receive time, so each is tested with bytes in and events
out. The wire already spells symbols and sides the way mdc does; a real venue maps them here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mdc.events import BookDelta, BookSnapshot, Event, Trade
from mdc.venues.base import Control, Heartbeat, Subscribed, VenueError

from .version import TRADE_CONDITIONS
from .wire import (
    MS,
    NAME,
    RestDepth,
    RestTrade,
    WireBook,
    WireDelta,
    WireError,
    WireHeartbeat,
    WireSubscribed,
    WireTrade,
)

Items = list[Event | Control]


def trade(m: WireTrade, ts_recv: int) -> Items:
    return [to_trade(m.symbol, m, ts_recv)]


def to_trade(symbol: str, m: WireTrade | RestTrade, ts_recv: int) -> Trade:
    """One trade, from the websocket or the REST history (same fields, same event)."""
    return Trade(
        NAME,
        symbol,
        m.ts * MS,
        ts_recv,
        m.price,
        m.size,
        m.side,
        m.id,
        conditions=TRADE_CONDITIONS,
    )


def book(m: WireBook | RestDepth, ts_recv: int) -> Items:
    return [to_snapshot(m, ts_recv)]


def to_snapshot(m: WireBook | RestDepth, ts_recv: int) -> BookSnapshot:
    """The whole book, named by its `seq` (the book's update id)."""
    return BookSnapshot(NAME, m.symbol, m.ts * MS, ts_recv, m.bids, m.asks, update_id=m.seq)


def delta(m: WireDelta, ts_recv: int) -> Items:
    """One numbered change: `seq` is both the first and the last update id it covers."""
    return [
        BookDelta(
            NAME,
            m.symbol,
            m.ts * MS,
            ts_recv,
            m.bids,
            m.asks,
            first_update_id=m.seq,
            last_update_id=m.seq,
        )
    ]


def heartbeat(m: WireHeartbeat, ts_recv: int) -> Items:
    """Names the last trade published: the Session fetches any it has not seen."""
    return [Heartbeat(m.symbol, m.last_trade_id)]


def subscribed(m: WireSubscribed, ts_recv: int) -> Items:
    return [Subscribed(f"{','.join(m.channels)} for {','.join(m.symbols)}")]


def error(m: WireError, ts_recv: int) -> Items:
    return [VenueError(m.code, m.message, permanent=m.fatal)]


BUILDERS: dict[type, Callable[[Any, int], Items]] = {
    WireTrade: trade,
    WireBook: book,
    WireDelta: delta,
    WireHeartbeat: heartbeat,
    WireSubscribed: subscribed,
    WireError: error,
}
"""Routing: one builder per message type (a new type is one struct and one row here)."""
