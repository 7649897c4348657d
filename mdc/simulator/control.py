"""The `/_sim/*` control and truth API of a venue server, as plain request -> reply logic.

POST /_sim/faults   {"drop":0.1, ..., "connection":3?, "close_now":true?, "stall_s":2?}
GET  /_sim/connections
GET  /_sim/truth/trades?symbol=BTC-USDT
GET  /_sim/truth/book?symbol=BTC-USDT&update_id=N   (or &ts=<venue ts ns>, optional &depth=N)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import msgspec

from mdc.errors import CollectorError
from mdc.events import to_json
from mdc.simulator.encoders.base import HttpReply
from mdc.simulator.faults import FaultConfigError
from mdc.simulator.truth import BookState

if TYPE_CHECKING:
    from mdc.simulator.server import Connection, VenueServer

_encoder = msgspec.json.Encoder(decimal_format="string")


class ControlRequestError(CollectorError):
    """A malformed `/_sim` request; answered with HTTP 400 and the message."""


def _json(status: int, obj: Any) -> HttpReply:
    return HttpReply(status, _encoder.encode(obj).decode())


class ControlApi:
    """Fault and truth control for one venue server."""

    def __init__(self, server: VenueServer, clock_ns: Callable[[], int]) -> None:
        self._server = server
        self._clock_ns = clock_ns

    def handle(self, method: str, path: str, query: Mapping[str, str], body: bytes) -> HttpReply:
        routes = {
            ("POST", "/_sim/faults"): lambda: self._faults(body),
            ("GET", "/_sim/connections"): self._connections,
            ("GET", "/_sim/truth/trades"): lambda: self._trades(query),
            ("GET", "/_sim/truth/book"): lambda: self._book(query),
        }
        route = routes.get((method, path))
        if route is None:
            return _json(404, {"error": f"no such control endpoint: {method} {path}"})
        try:
            return route()
        except (ControlRequestError, FaultConfigError) as exc:
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

    def _faults(self, body: bytes) -> HttpReply:
        try:
            request = json.loads(body or b"{}")
        except ValueError as exc:
            raise ControlRequestError(f"body is not JSON: {exc}") from exc
        if not isinstance(request, dict):
            raise ControlRequestError("body must be a JSON object")
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
