"""One Kraken v2 websocket connection: status on connect, subscribe acks, ping, heartbeats."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mdc.simulator.encoders.base import (
    HandshakeRejected,
    HttpReply,
    Publication,
    SessionOutput,
    dumps,
    parse_json,
    rfc3339,
)

if TYPE_CHECKING:
    from mdc.simulator.encoders.kraken import KrakenVenue

NS = 1_000_000_000
CHANNELS = ("book", "trade")
DEPTHS = (10, 25, 100, 500, 1000)


def reject_path(path: str) -> HandshakeRejected:
    return HandshakeRejected(HttpReply(404, dumps({"error": [f"unknown path {path}; use /v2"]})))


class KrakenSession:
    def __init__(self, venue: KrakenVenue) -> None:
        self._venue = venue
        self._topics: set[tuple[Any, ...]] = set()
        self._next_heartbeat_ns = 0

    def on_open(self, now_ns: int) -> SessionOutput:
        status = {"api_version": "v2", "connection_id": 1, "system": "online", "version": "2.0.0"}
        return SessionOutput([dumps({"channel": "status", "type": "update", "data": [status]})])

    def on_message(self, text: str, now_ns: int) -> SessionOutput:
        msg = parse_json(text)
        if not isinstance(msg, dict) or not isinstance(msg.get("method"), str):
            return SessionOutput([dumps({"error": "Malformed request", "success": False})])
        method, req_id, stamp = msg["method"], msg.get("req_id"), rfc3339(now_ns, 6)
        times = {"time_in": stamp, "time_out": stamp} | ({"req_id": req_id} if req_id else {})
        if method == "ping":
            return SessionOutput([dumps({"method": "pong"} | times)])
        if method not in ("subscribe", "unsubscribe"):
            return SessionOutput([_failure(method, f"Method {method!r} not supported", times)])
        params = msg.get("params")
        if not isinstance(params, dict) or params.get("channel") not in CHANNELS:
            return SessionOutput([_failure(method, "Channel not supported", times)])
        return self._subscription(method, params, times, now_ns)

    def _subscription(
        self, method: str, params: dict[str, Any], times: dict[str, Any], now_ns: int
    ) -> SessionOutput:
        channel, depth = params["channel"], params.get("depth", 10)
        symbols = params.get("symbol")
        if not isinstance(symbols, list) or not symbols:
            return SessionOutput([_failure(method, "symbol must be a non-empty list", times)])
        if channel == "book" and depth not in DEPTHS:
            return SessionOutput([_failure(method, f"depth must be one of {DEPTHS}", times)])
        out = SessionOutput()
        for name in symbols:
            symbol = self._venue.by_ws.get(name)
            if symbol is None:
                out.control.append(_failure(method, f"Currency pair not supported {name}", times))
                continue
            topic = ("book", symbol, depth) if channel == "book" else ("trade", symbol)
            result = {"channel": channel, "symbol": name}
            if channel == "book":
                result |= {"depth": depth, "snapshot": params.get("snapshot", True)}
            ack = {"method": method, "result": result, "success": True} | times
            out.control.append(dumps(ack))
            if method == "unsubscribe":
                self._topics.discard(topic)
                continue
            self._topics.add(topic)
            self._next_heartbeat_ns = self._next_heartbeat_ns or now_ns + NS
            if params.get("snapshot", True):
                out.control.append(self._snapshot(topic))
        return out

    def _snapshot(self, topic: tuple[Any, ...]) -> str:
        if topic[0] == "book":
            return self._venue.book_snapshot(topic[1], topic[2])
        return self._venue.trade_snapshot(topic[1])

    def on_publications(self, pubs: list[Publication], now_ns: int) -> SessionOutput:
        return SessionOutput(data=[pub.body for pub in pubs if pub.topic in self._topics])

    def on_tick(self, now_ns: int) -> SessionOutput:
        if not self._next_heartbeat_ns or now_ns < self._next_heartbeat_ns:
            return SessionOutput()
        self._next_heartbeat_ns = now_ns + NS
        return SessionOutput(data=[dumps({"channel": "heartbeat"})])

    def on_slow_client(self) -> list[str]:
        return []

    def on_close(self) -> None:
        return None


def _failure(method: str, error: str, times: dict[str, Any]) -> str:
    return dumps({"method": method, "error": error, "success": False} | times)
