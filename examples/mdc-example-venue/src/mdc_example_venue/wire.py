"""The Example Exchange's wire format: what its websocket and REST endpoints send, as structs.

The whole protocol, which both the venue parser (`adapter`) and the simulator encoder
(`simulator`) follow. Symbols are spelled the way mdc spells them (`BTC-USD`), prices and sizes
are decimal strings, times are integer milliseconds since the Unix epoch (UTC).

Websocket (`/ws`), client to venue, once connected::

    {"op": "subscribe", "symbols": ["BTC-USD"], "channels": ["trades", "book"]}

Venue to client::

    {"type": "subscribed", "symbols": [...], "channels": [...]}
    {"type": "error", "code": 400, "message": "...", "fatal": false}
    {"type": "trade", "symbol": "BTC-USD", "id": 7, "price": "1.5", "size": "0.1",
     "side": "buy", "ts": 1700000000000}
    {"type": "book", "symbol": "BTC-USD", "seq": 41, "ts": ..., "bids": [["1.4", "2"]],
     "asks": [["1.6", "3"]]}
    {"type": "delta", "symbol": "BTC-USD", "seq": 42, "ts": ..., "bids": [["1.4", "0"]],
     "asks": []}
    {"type": "heartbeat", "symbol": "BTC-USD", "ts": ..., "last_trade_id": 7}

- `trade`: one execution; `id` counts the symbol's trades consecutively; `side` is the
  aggressor's side.
- `book`: the whole book, bids and asks best first, sent once per symbol right after the
  subscription is confirmed; `seq` is the number of the last change it contains.
- `delta`: changed levels with their new absolute size (`"0"` removes the level); `seq` is the
  book snapshot's or previous delta's `seq` plus one, so any lost delta shows as a jump.
- `heartbeat`: every second per subscribed symbol; `last_trade_id` is the id of the last trade
  published (null before the first), so a lost last trade shows even when no trade follows.
- `error`: `fatal` errors (bad credentials, say) will not go away by retrying.
- A message of another `type` is a later addition of the venue: it is read and left out.

REST::

    GET /trades?symbol=BTC-USD&from_id=7&limit=1000
        -> {"symbol": "BTC-USD", "trades": [{"id", "price", "size", "side", "ts"}, ...]}
           ids from `from_id` upward, oldest first, at most `limit` (1..1000)
    GET /depth?symbol=BTC-USD
        -> {"symbol": "BTC-USD", "seq": 57, "ts": ..., "bids": [...], "asks": [...]}
    errors: HTTP 400 or 404 with {"code": 400, "message": "..."}
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal, get_args

import msgspec

NAME = "example"
MS = 1_000_000
"""Nanoseconds per wire time unit (ms)."""
WS_PATH = "/ws"
TRADES_PATH = "/trades"
DEPTH_PATH = "/depth"
CHANNELS = ("trades", "book")
HISTORY_LIMIT = 1000
"""The most trades one `GET /trades` returns."""

Level = tuple[Decimal, Decimal]
Side = Literal["buy", "sell"]

# -- websocket ----------------------------------------------------------------------------------


class WireTrade(msgspec.Struct, frozen=True, tag="trade", tag_field="type"):
    symbol: str
    id: int
    price: Decimal
    size: Decimal
    side: Side
    ts: int


class WireBook(msgspec.Struct, frozen=True, tag="book", tag_field="type"):
    symbol: str
    seq: int
    ts: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]


class WireDelta(msgspec.Struct, frozen=True, tag="delta", tag_field="type"):
    symbol: str
    seq: int
    ts: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]


class WireHeartbeat(msgspec.Struct, frozen=True, tag="heartbeat", tag_field="type"):
    symbol: str
    ts: int
    last_trade_id: int | None = None


class WireSubscribed(msgspec.Struct, frozen=True, tag="subscribed", tag_field="type"):
    symbols: tuple[str, ...]
    channels: tuple[str, ...]


class WireError(msgspec.Struct, frozen=True, tag="error", tag_field="type"):
    code: int
    message: str
    fatal: bool = False


WireMessage = WireTrade | WireBook | WireDelta | WireHeartbeat | WireSubscribed | WireError
KNOWN_TYPES = frozenset(t.__struct_config__.tag for t in get_args(WireMessage))


class Envelope(msgspec.Struct, frozen=True):
    """Only the routing key: read when a message does not decode as any known type."""

    type: str | None = None


# -- REST ---------------------------------------------------------------------------------------


class RestTrade(msgspec.Struct, frozen=True):
    id: int
    price: Decimal
    size: Decimal
    side: Side
    ts: int


class RestTrades(msgspec.Struct, frozen=True):
    symbol: str
    trades: tuple[RestTrade, ...]


class RestDepth(msgspec.Struct, frozen=True):
    symbol: str
    seq: int
    ts: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
