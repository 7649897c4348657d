"""The simulator's Example Exchange: the market model's events in this venue's wire format
(`wire` documents it), its websocket sessions and its REST endpoints.

With this encoder registered (`mdc.simulator_venues`), `mdc run` on the simulator and then
`mdc verify` check the collector's guarantees on this venue: the simulator records
every trade it publishes (`truth_trade` says how the collector should store it) and every book
state, before any fault drops, repeats or reorders a frame. Written from the protocol, not from
the parser, so the loopback test checks the parser against an independent reading of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from mdc.simulator.encoders.base import (
    HandshakeRejected,
    HttpReply,
    Publication,
    SessionOutput,
    dumps,
    int_param,
    parse_json,
    plain,
)
from mdc.simulator.encoders.base import Venue as SimVenue
from mdc.simulator.model import BookUpdate, ModelEvent, ModelTrade, SymbolSpec

from .wire import CHANNELS, DEPTH_PATH, HISTORY_LIMIT, MS, NAME, TRADES_PATH, WS_PATH

HEARTBEAT_NS = 1_000_000_000


def _levels(levels: Iterable[tuple[Decimal, Decimal]]) -> list[list[str]]:
    return [[plain(price), plain(size)] for price, size in levels]


def _crypto(symbol: str, price: str, max_lots: int) -> SymbolSpec:
    """A cent tick and a satoshi lot, as the usual crypto venues have."""
    return SymbolSpec(symbol, Decimal(price), Decimal("0.01"), Decimal("0.00000001"), max_lots)


def _error(code: int, message: str) -> str:
    return dumps({"type": "error", "code": code, "message": message, "fatal": False})


def _rest_error(status: int, message: str) -> HttpReply:
    return HttpReply(status, dumps({"code": status, "message": message}))


class ExampleSimVenue(SimVenue):
    """Publications are whole wire messages (text), topic (channel, symbol)."""

    name = NAME
    ts_unit_ns = MS
    default_ws_path = WS_PATH
    instruments: Mapping[str, SymbolSpec] = {
        "BTC-USD": _crypto("BTC-USD", "42500.00", 500_000),
        "ETH-USD": _crypto("ETH-USD", "2200.00", 5_000_000),
    }
    """Served when the config names no symbols; any other symbol gets a generic instrument."""

    def render(self, event: ModelEvent) -> list[Publication]:
        if isinstance(event, ModelTrade):
            return [Publication(("trades", event.symbol), dumps(self._trade(event)))]
        return [Publication(("book", event.symbol), dumps(self._delta(event)))]

    def _trade(self, trade: ModelTrade) -> dict[str, Any]:
        return {
            "type": "trade",
            "symbol": trade.symbol,
            "id": trade.trade_id,
            "price": plain(trade.price),
            "size": plain(trade.size),
            "side": trade.aggressor,
            "ts": trade.ts_ns // MS,
        }

    def _delta(self, update: BookUpdate) -> dict[str, Any]:
        """One model update is one numbered delta: `seq` is the model's update id."""
        bids = [(p, s) for side, p, s in update.changes if side == "bid"]
        asks = [(p, s) for side, p, s in update.changes if side == "ask"]
        body = {"type": "delta", "symbol": update.symbol, "seq": update.update_id}
        return body | {"ts": update.ts_ns // MS, "bids": _levels(bids), "asks": _levels(asks)}

    def book(self, symbol: str) -> dict[str, Any]:
        """The published book now (the websocket `book` message and the REST depth reply)."""
        model, mirror = self.model.symbols[symbol], self.mirror[symbol]
        body: dict[str, Any] = {"symbol": symbol, "seq": model.update_id}
        body["ts"] = model.last_ts_ns // MS
        return body | {"bids": _levels(mirror.top("bid")), "asks": _levels(mirror.top("ask"))}

    def last_trade_id(self, symbol: str) -> int | None:
        trades = self.history.trades(symbol)
        return trades[-1].trade_id if trades else None

    def open_session(
        self, path: str, query: Mapping[str, str], headers: Mapping[str, str]
    ) -> ExampleSimSession:
        if path != WS_PATH:
            raise HandshakeRejected(_rest_error(404, f"no websocket at {path}; use {WS_PATH}"))
        return ExampleSimSession(self)

    def rest(self, path: str, query: Mapping[str, str], headers: Mapping[str, str]) -> HttpReply:
        routes = {TRADES_PATH: self._rest_trades, DEPTH_PATH: self._rest_depth}
        if path not in routes:
            return _rest_error(404, f"unknown endpoint {path}")
        symbol = query.get("symbol", "")
        if symbol not in self.model.symbols:
            return _rest_error(400, f"unknown symbol {symbol!r}")
        try:
            return routes[path](symbol, query)
        except ValueError:
            return _rest_error(400, "from_id and limit must be integers")

    def _rest_depth(self, symbol: str, query: Mapping[str, str]) -> HttpReply:
        return HttpReply(200, dumps(self.book(symbol)))

    def _rest_trades(self, symbol: str, query: Mapping[str, str]) -> HttpReply:
        limit = int_param(query, "limit", HISTORY_LIMIT)
        from_id = int_param(query, "from_id", None)
        if limit is None or not 1 <= limit <= HISTORY_LIMIT:
            return _rest_error(400, f"limit must be 1..{HISTORY_LIMIT}")
        if from_id is None:
            page = list(self.history.trades(symbol))[-limit:]
        else:
            page = self.history.from_id(symbol, from_id, limit)
        rows = [_row(self._trade(t)) for t in page]
        return HttpReply(200, dumps({"symbol": symbol, "trades": rows}))


def _row(message: dict[str, Any]) -> dict[str, Any]:
    """A websocket trade message as a REST history row (no `type`, no `symbol`)."""
    return {k: v for k, v in message.items() if k not in ("type", "symbol")}


class ExampleSimSession:
    """One connection: what it subscribed to, and when its next heartbeats are due."""

    def __init__(self, venue: ExampleSimVenue) -> None:
        self._venue = venue
        self._subs: dict[str, set[str]] = {channel: set() for channel in CHANNELS}
        self._next_heartbeat_ns = 0

    def on_open(self, now_ns: int) -> SessionOutput:
        return SessionOutput()

    def on_message(self, text: str, now_ns: int) -> SessionOutput:
        """A subscribe is confirmed, then each newly subscribed book is sent whole."""
        msg = parse_json(text)
        problem = _subscribe_problem(msg, self._venue.model.symbols)
        if problem is not None:
            return SessionOutput([_error(400, problem)])
        symbols, channels = msg["symbols"], msg["channels"]
        new_books = (
            [s for s in symbols if s not in self._subs["book"]] if "book" in channels else []
        )
        for channel in channels:
            self._subs[channel].update(symbols)
        self._next_heartbeat_ns = self._next_heartbeat_ns or now_ns + HEARTBEAT_NS
        subscribed = {"type": "subscribed", "symbols": sorted(self._symbols())}
        subscribed["channels"] = [c for c in CHANNELS if self._subs[c]]
        out = SessionOutput([dumps(subscribed)])
        out.control += [dumps({"type": "book"} | self._venue.book(s)) for s in new_books]
        return out

    def on_publications(self, pubs: list[Publication], now_ns: int) -> SessionOutput:
        out = SessionOutput()
        for pub in pubs:
            channel, symbol = pub.topic
            if symbol in self._subs[channel]:
                out.data.append(pub.body)
        return out

    def on_tick(self, now_ns: int) -> SessionOutput:
        """Heartbeats are data frames: the simulator's faults may drop or delay them too."""
        out = SessionOutput()
        if not self._next_heartbeat_ns or now_ns < self._next_heartbeat_ns:
            return out
        self._next_heartbeat_ns = now_ns + HEARTBEAT_NS
        for symbol in sorted(self._symbols()):
            beat = {"type": "heartbeat", "symbol": symbol, "ts": now_ns // MS}
            beat["last_trade_id"] = self._venue.last_trade_id(symbol)
            out.data.append(dumps(beat))
        return out

    def _symbols(self) -> set[str]:
        return set().union(*self._subs.values())

    def on_slow_client(self) -> list[str]:
        return []

    def on_close(self) -> None:
        return None


def _subscribe_problem(msg: Any, known: Mapping[str, object]) -> str | None:
    """Why a client message is not a valid subscribe, or None."""
    if not isinstance(msg, dict) or msg.get("op") != "subscribe":
        return "expected {'op': 'subscribe', 'symbols': [...], 'channels': [...]}"
    symbols, channels = msg.get("symbols"), msg.get("channels")
    if not isinstance(symbols, list) or not symbols or not all(isinstance(s, str) for s in symbols):
        return "symbols must be a non-empty list of strings"
    if not isinstance(channels, list) or not channels or not all(c in CHANNELS for c in channels):
        return f"channels must be a non-empty list of {list(CHANNELS)}"
    unknown = [s for s in symbols if s not in known]
    return f"unknown symbols {unknown}" if unknown else None
