"""One Alpaca stream connection: connected -> auth -> subscribe, with the documented errors.

Errors: 400 invalid syntax, 401 not authenticated, 402 auth failed (then closed), 403 already
authenticated, 404 auth timeout (then closed), 406 connection limit (same key already
connected; then closed), 407 slow client (sent before a slow client is dropped).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mdc.simulator.encoders.base import (
    HandshakeRejected,
    HttpReply,
    Publication,
    SessionOutput,
    dumps,
    parse_json,
)

if TYPE_CHECKING:
    from mdc.simulator.encoders.alpaca import AlpacaVenue

NS = 1_000_000_000
FEEDS = ("iex", "sip", "test", "delayed_sip")
CHANNELS = ("trades", "quotes", "bars")
ERRORS = {
    400: "invalid syntax",
    401: "not authenticated",
    402: "auth failed",
    403: "already authenticated",
    404: "auth timeout",
    406: "connection limit exceeded",
    407: "slow client",
}


def reject_feed(path: str) -> HandshakeRejected:
    return HandshakeRejected(HttpReply(404, dumps({"message": f"unknown feed path {path}"})))


def _frame(*items: Any) -> str:
    return dumps(list(items))


def _error(code: int) -> dict[str, Any]:
    return {"T": "error", "code": code, "msg": ERRORS[code]}


class AlpacaSession:
    def __init__(self, venue: AlpacaVenue, headers: Mapping[str, str]) -> None:
        self._venue = venue
        self._header_auth = (headers.get("APCA-API-KEY-ID"), headers.get("APCA-API-SECRET-KEY"))
        self._key: str | None = None
        self._auth_deadline_ns = 0
        self._subs: dict[str, set[str]] = {channel: set() for channel in CHANNELS}

    def on_open(self, now_ns: int) -> SessionOutput:
        self._auth_deadline_ns = now_ns + int(self._venue.config.auth_timeout_s * NS)
        out = SessionOutput([_frame({"T": "success", "msg": "connected"})])
        if self._header_auth[0] is not None:
            self._merge(out, self._auth(*self._header_auth))
        return out

    @staticmethod
    def _merge(into: SessionOutput, more: SessionOutput) -> None:
        into.control.extend(more.control)
        into.close = into.close or more.close

    def on_message(self, text: str, now_ns: int) -> SessionOutput:
        msg = parse_json(text)
        if not isinstance(msg, dict) or not isinstance(msg.get("action"), str):
            return SessionOutput([_frame(_error(400))])
        action = msg["action"]
        if action == "auth":
            return self._auth(msg.get("key"), msg.get("secret"))
        if action not in ("subscribe", "unsubscribe"):
            return SessionOutput([_frame(_error(400))])
        if self._key is None:
            return SessionOutput([_frame(_error(401))])
        lists = {channel: msg.get(channel, []) for channel in CHANNELS}
        if not all(
            isinstance(v, list) and all(isinstance(s, str) for s in v) for v in lists.values()
        ):
            return SessionOutput([_frame(_error(400))])
        for channel, symbols in lists.items():
            if action == "subscribe":
                self._subs[channel].update(symbols)
            else:
                self._subs[channel].difference_update(symbols)
        reply = {"T": "subscription"} | {c: sorted(s) for c, s in self._subs.items()}
        return SessionOutput([_frame(reply)])

    def _auth(self, key: Any, secret: Any) -> SessionOutput:
        if self._key is not None:
            return SessionOutput([_frame(_error(403))])
        if not self._venue.credentials_ok(key, secret):
            return SessionOutput([_frame(_error(402))], close=True)
        if key in self._venue.active_keys:
            return SessionOutput([_frame(_error(406))], close=True)
        self._key = key
        self._venue.active_keys.add(key)
        return SessionOutput([_frame({"T": "success", "msg": "authenticated"})])

    def _wants(self, channel: str, symbol: str) -> bool:
        subs = self._subs[channel]
        return symbol in subs or "*" in subs

    def on_publications(self, pubs: list[Publication], now_ns: int) -> SessionOutput:
        items = [pub.body for pub in pubs if self._key and self._wants(*pub.topic)]
        return SessionOutput(data=[_frame(*items)] if items else [])

    def on_tick(self, now_ns: int) -> SessionOutput:
        if self._key is None and self._auth_deadline_ns and now_ns > self._auth_deadline_ns:
            self._auth_deadline_ns = 0
            return SessionOutput([_frame(_error(404))], close=True)
        return SessionOutput()

    def on_slow_client(self) -> list[str]:
        return [_frame(_error(407))]

    def on_close(self) -> None:
        if self._key is not None:
            self._venue.active_keys.discard(self._key)
