"""The `/_sim/*` control and truth API of a venue server, as plain request -> reply logic.

POST /_sim/faults   {"drop":0.1, ..., "connection":3?, "close_now":true?, "stall_s":2?}
POST /_sim/market   {"symbol":"AAPL"?, "jump_pct":6?, "halt_trades_s":3?, "cross_quotes_s":2?,
                     "refuse_s":5?}   market faults (no symbol: every symbol of the venue)
GET  /_sim/connections
GET  /_sim/truth/trades?symbol=BTC-USDT
GET  /_sim/truth/book?symbol=BTC-USDT&update_id=N   (or &ts=<venue ts ns>, optional &depth=N)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import msgspec

from mdc.errors import CollectorError
from mdc.events import to_json
from mdc.simulator.encoders.base import HttpReply, NoQuotes
from mdc.simulator.faults import FaultConfigError
from mdc.simulator.model import SimulatorConfigError, check_jump
from mdc.simulator.truth import BookState

if TYPE_CHECKING:
    from mdc.simulator.server import Connection, VenueServer

_encoder = msgspec.json.Encoder(decimal_format="string")


MARKET_FAULTS = ("jump_pct", "halt_trades_s", "cross_quotes_s", "refuse_s")
LINK_REQUEST_KEYS = ("stall_s", "close_now", "connection")
"""What `/_sim/faults` takes besides the link's fault probabilities."""


class ControlRequestError(CollectorError):
    """A malformed `/_sim` request; answered with HTTP 400 and the message."""


def _json(status: int, obj: Any) -> HttpReply:
    return HttpReply(status, _encoder.encode(obj).decode())


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        request = json.loads(body or b"{}")
    except ValueError as exc:
        raise ControlRequestError(f"body is not JSON: {exc}") from exc
    if not isinstance(request, dict):
        raise ControlRequestError("body must be a JSON object")
    return request


class ControlApi:
    """Fault and truth control for one venue server."""

    def __init__(self, server: VenueServer, clock_ns: Callable[[], int]) -> None:
        self._server = server
        self._clock_ns = clock_ns

    def handle(self, method: str, path: str, query: Mapping[str, str], body: bytes) -> HttpReply:
        routes = {
            ("POST", "/_sim/faults"): lambda: self._faults(body),
            ("POST", "/_sim/market"): lambda: self._market(body),
            ("GET", "/_sim/connections"): self._connections,
            ("GET", "/_sim/truth/trades"): lambda: self._trades(query),
            ("GET", "/_sim/truth/book"): lambda: self._book(query),
        }
        route = routes.get((method, path))
        if route is None:
            return _json(404, {"error": f"no such control endpoint: {method} {path}"})
        try:
            return route()
        except (ControlRequestError, FaultConfigError, NoQuotes) as exc:
            return _json(400, {"error": str(exc)})
        except CollectorError as exc:
            return _json(409, {"error": str(exc)})

    def _targets(self, connection: int | None) -> list[Connection]:
        conns = self._server.connections
        if connection is None:
            return list(conns.values())
        if connection not in conns:
            raise ControlRequestError(f"no open connection {connection}; open: {sorted(conns)}")
        return [conns[connection]]

    def set_faults(self, changes: Mapping[str, Any], connection: int | None = None) -> list[int]:
        """Update fault probabilities for one connection, or the venue default and every client."""
        targets = self._targets(connection)
        if connection is None:
            self._server.default_faults = self._server.default_faults.updated(changes)
        for conn in targets:
            conn.link.config = conn.link.config.updated(changes)
            if not conn.link.config.reorder:
                self._server.deliver_actions(conn, conn.link.release_held())
        return [c.id for c in targets]

    def close_now(self, connection: int | None = None) -> list[int]:
        targets = self._targets(connection)
        for conn in targets:
            self._server.abort(conn)
        return [c.id for c in targets]

    def stall(self, seconds: float, connection: int | None = None) -> list[int]:
        targets = self._targets(connection)
        for conn in targets:
            conn.link.stall(self._clock_ns(), seconds)
        return [c.id for c in targets]

    def refuse(self, seconds: float) -> list[int]:
        """An outage: every client is dropped and new ones are refused for `seconds`."""
        self._server.refuse_until_ns = self._clock_ns() + int(seconds * 1e9)
        return self.close_now()

    def market(self, faults: Mapping[str, Any], symbol: str | None = None) -> list[str]:
        """Market faults on one symbol or all (see the module docstring); returns the symbols."""
        unknown = set(faults) - set(MARKET_FAULTS)
        if unknown:
            raise ControlRequestError(
                f"unknown market fault(s) {sorted(unknown)}; known: {', '.join(MARKET_FAULTS)}"
            )
        for name, value in faults.items():
            if type(value) not in (int, float) or (value <= 0 and name != "jump_pct"):
                raise ControlRequestError(f"{name} must be a positive number, got {value!r}")
        models = self._server.driver.model.symbols
        if symbol is not None and symbol not in models:
            raise ControlRequestError(f"no symbol {symbol!r} here; known: {', '.join(models)}")
        symbols = [symbol] if symbol else list(models)
        now = self._clock_ns()
        jump = Decimal(str(faults.get("jump_pct", 0))) / 100
        if jump:
            check_jump(jump)
        if "cross_quotes_s" in faults:
            self._server.venue.cross_quotes(symbols, now + int(faults["cross_quotes_s"] * 1e9))
        for name in symbols:
            if jump:
                models[name].jump(jump)
            if "halt_trades_s" in faults:
                models[name].halt_trades(now + int(faults["halt_trades_s"] * 1e9))
        if "refuse_s" in faults:
            self.refuse(faults["refuse_s"])
        return symbols

    def _market(self, body: bytes) -> HttpReply:
        request = _json_object(body)
        symbol = request.pop("symbol", None)
        if not (symbol is None or isinstance(symbol, str)):
            raise ControlRequestError(f"symbol must be a string, got {symbol!r}")
        try:
            symbols = self.market(request, symbol)
        except SimulatorConfigError as exc:
            raise ControlRequestError(str(exc)) from exc
        return _json(200, {"ok": True, "symbols": symbols})

    def _faults(self, body: bytes) -> HttpReply:
        request = _json_object(body)
        connection = request.pop("connection", None)
        close_now = request.pop("close_now", False)
        stall_s = request.pop("stall_s", None)
        if not (connection is None or type(connection) is int):
            raise ControlRequestError(f"connection must be an integer id, got {connection!r}")
        if not (stall_s is None or type(stall_s) in (int, float)):
            raise ControlRequestError(f"stall_s must be a number of seconds, got {stall_s!r}")
        affected = self.set_faults(request, connection)
        if stall_s is not None:
            self.stall(float(stall_s), connection)
        if close_now:
            self.close_now(connection)
        return _json(200, {"ok": True, "connections": affected})

    def _connections(self) -> HttpReply:
        conns = self._server.connections.values()
        return _json(200, {"connections": [{"id": c.id, "path": c.path} for c in conns]})

    def _trades(self, query: Mapping[str, str]) -> HttpReply:
        trades = self._server.truth.trades(self._symbol(query))
        body = b'{"trades":[' + b",".join(to_json(t) for t in trades) + b"]}"
        return HttpReply(200, body.decode())

    def _book(self, query: Mapping[str, str]) -> HttpReply:
        symbol = self._symbol(query)
        try:
            update_id = int(query["update_id"]) if "update_id" in query else None
            ts = int(query["ts"]) if "ts" in query else None
            depth = int(query.get("depth", 0))
        except ValueError as exc:
            raise ControlRequestError(f"update_id, ts and depth must be integers: {exc}") from exc
        state = self._server.truth.book(symbol, update_id=update_id, ts_event=ts)
        if depth:
            state = state.top(depth)
        return _json(200, _state_dict(state))

    @staticmethod
    def _symbol(query: Mapping[str, str]) -> str:
        symbol = query.get("symbol")
        if not symbol:
            raise ControlRequestError("query parameter 'symbol' is required")
        return symbol


def _state_dict(state: BookState) -> dict[str, Any]:
    return {
        "symbol": state.symbol,
        "update_id": state.update_id,
        "ts_event": state.ts_event,
        "bids": state.bids,
        "asks": state.asks,
    }
