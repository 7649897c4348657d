"""Coinbase wire format: Advanced Trade websocket (spec 2.2) and Exchange-style REST (2.1).

Choices: websocket `market_trades` `side` is the TAKER side (BUY = aggressor bought); REST
`/products/{id}/trades` `side` is the MAKER side as in Coinbase Exchange (`sell` = taker
bought). trade_id is one contiguous integer sequence per product (a digit string on the
websocket, an int on REST). REST book `sequence` is the model's update id of that book.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from mdc.simulator.config import INSTRUMENTS
from mdc.simulator.encoders.base import (
    HttpReply,
    Publication,
    SessionOutput,
    Venue,
    dumps,
    int_param,
    parse_json,
    plain,
    rfc3339,
)
from mdc.simulator.model import ModelEvent, ModelTrade

NS = 1_000_000_000
WIRE_CHANNEL = {"level2": "l2_data", "market_trades": "market_trades", "heartbeats": "heartbeats"}
SNAPSHOT_TRADES = 10
MAX_REST_TRADES = 1000
REST_BOOK_LEVELS = 50


def _time(ts_ns: int) -> str:
    return rfc3339(ts_ns, 6)


def _not_found(message: str) -> HttpReply:
    return HttpReply(404, dumps({"message": message}))


class CoinbaseVenue(Venue):
    name = "coinbase"
    ts_unit_ns = 1_000
    instruments = INSTRUMENTS["coinbase"]

    def render(self, event: ModelEvent) -> list[Publication]:
        ts = _time(event.ts_ns)
        if isinstance(event, ModelTrade):
            body = {"type": "update", "trades": [self.ws_trade(event)]}
            return [Publication(("market_trades", event.symbol), (ts, _raw(body)))]
        updates = [_level(side, p, q, ts) for side, p, q in event.changes]
        body = {"type": "update", "product_id": event.symbol, "updates": updates}
        return [Publication(("level2", event.symbol), (ts, _raw(body)))]

    @staticmethod
    def ws_trade(trade: ModelTrade) -> dict[str, str]:
        return {
            "trade_id": str(trade.trade_id),
            "product_id": trade.symbol,
            "price": plain(trade.price),
            "size": plain(trade.size),
            "side": trade.aggressor.upper(),
            "time": _time(trade.ts_ns),
        }

    def snapshot(self, channel: str, product: str) -> tuple[str, dict[str, Any]]:
        """The first event of a new subscription: the whole book, or the recent trades."""
        model = self.model.symbols[product]
        ts = _time(model.last_ts_ns)
        if channel == "level2":
            book = self.mirror[product]
            levels = [_level(side, p, q, ts) for side in ("bid", "ask") for p, q in book.top(side)]
            return ts, {"type": "snapshot", "product_id": product, "updates": levels}
        recent = list(self.history.trades(product))[-SNAPSHOT_TRADES:]
        return ts, {"type": "snapshot", "trades": [self.ws_trade(t) for t in reversed(recent)]}

    def open_session(
        self, path: str, query: Mapping[str, str], headers: Mapping[str, str]
    ) -> CoinbaseSession:
        return CoinbaseSession(self)

    def rest(self, path: str, query: Mapping[str, str], headers: Mapping[str, str]) -> HttpReply:
        parts = path.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "products" or parts[2] not in ("trades", "book"):
            return _not_found("route not found")
        product = parts[1]
        if product not in self.model.symbols:
            return _not_found("NotFound")
        try:
            if parts[2] == "trades":
                return self._rest_trades(product, query)
            return self._rest_book(product)
        except ValueError:
            return HttpReply(400, dumps({"message": "Invalid parameter: expected an integer"}))

    def _rest_trades(self, product: str, query: Mapping[str, str]) -> HttpReply:
        limit = int_param(query, "limit", 100) or 100
        after = int_param(query, "after", None)
        before = int_param(query, "before", None)
        if not 1 <= limit <= MAX_REST_TRADES:
            return HttpReply(400, dumps({"message": f"limit must be 1..{MAX_REST_TRADES}"}))
        trades = [t for t in self.history.trades(product) if after is None or t.trade_id < after]
        trades = [t for t in trades if before is None or t.trade_id > before]
        page = trades[:limit] if before is not None else trades[-limit:]
        page.reverse()
        headers = {}
        if page:
            headers = {"cb-before": str(page[0].trade_id), "cb-after": str(page[-1].trade_id)}
        return HttpReply(200, dumps([self._rest_trade(t) for t in page]), headers)

    @staticmethod
    def _rest_trade(trade: ModelTrade) -> dict[str, object]:
        return {
            "time": _time(trade.ts_ns),
            "trade_id": trade.trade_id,
            "price": plain(trade.price),
            "size": plain(trade.size),
            "side": "sell" if trade.aggressor == "buy" else "buy",
        }

    def _rest_book(self, product: str) -> HttpReply:
        model = self.model.symbols[product]
        book = model.book
        body: dict[str, object] = {
            side + "s": [[plain(p), plain(q), 1] for p, q in book.top(side, REST_BOOK_LEVELS)]
            for side in ("bid", "ask")
        }
        body |= {"sequence": model.update_id, "time": _time(model.last_ts_ns)}
        return HttpReply(200, dumps(body))


def _level(side: str, price: Any, size: Any, ts: str) -> dict[str, str]:
    return {
        "side": "bid" if side == "bid" else "offer",
        "event_time": ts,
        "price_level": plain(price),
        "new_quantity": plain(size),
    }


def _raw(obj: Any) -> msgspec.Raw:
    return msgspec.Raw(dumps(obj).encode())


class CoinbaseSession:
    """One connection: subscriptions per channel and the connection-wide `sequence_num`."""

    def __init__(self, venue: CoinbaseVenue) -> None:
        self._venue = venue
        self._subs: dict[str, set[str]] = {channel: set() for channel in WIRE_CHANNEL}
        self._sequence = 0
        self._deadline_ns = 0
        self._next_heartbeat_ns = 0
        self._heartbeat_counter = 0

    def _envelope(self, channel: str, ts: str, events: list[Any]) -> str:
        frame = {"channel": channel, "client_id": "", "timestamp": ts}
        frame |= {"sequence_num": self._sequence, "events": events}
        self._sequence += 1
        return dumps(frame)

    def on_open(self, now_ns: int) -> SessionOutput:
        self._deadline_ns = now_ns + int(self._venue.config.subscribe_deadline_s * NS)
        return SessionOutput()

    def on_message(self, text: str, now_ns: int) -> SessionOutput:
        msg = parse_json(text)
        now = _time(now_ns)
        problem = _validate(msg, self._venue.model.symbols)
        if problem:
            return SessionOutput([dumps({"type": "error", "message": problem})])
        channel, products = msg["channel"], msg.get("product_ids", [])
        if msg["type"] == "unsubscribe":
            self._subs[channel].difference_update(products)
            return SessionOutput([self._subscriptions(now)])
        new = [p for p in products if p not in self._subs[channel]]
        self._subs[channel].update(products)
        if channel == "heartbeats":
            self._next_heartbeat_ns = self._next_heartbeat_ns or now_ns
        out = SessionOutput([self._subscriptions(now)])
        if channel != "heartbeats":
            for product in new:
                ts, event = self._venue.snapshot(channel, product)
                out.control.append(self._envelope(WIRE_CHANNEL[channel], ts, [event]))
        return out

    def _subscriptions(self, now: str) -> str:
        subs = {channel: sorted(products) for channel, products in self._subs.items() if products}
        if self._next_heartbeat_ns:
            subs["heartbeats"] = ["heartbeats"]
        return self._envelope("subscriptions", now, [{"subscriptions": subs}])

    def on_publications(self, pubs: list[Publication], now_ns: int) -> SessionOutput:
        out = SessionOutput()
        for pub in pubs:
            channel, product = pub.topic
            if product in self._subs[channel]:
                ts, event = pub.body
                out.data.append(self._envelope(WIRE_CHANNEL[channel], ts, [event]))
        return out

    def on_tick(self, now_ns: int) -> SessionOutput:
        out = SessionOutput()
        if self._deadline_ns and not self._subscribed() and now_ns > self._deadline_ns:
            out.control.append(dumps({"type": "error", "message": "subscribe timeout"}))
            out.close = True
        elif self._next_heartbeat_ns and now_ns >= self._next_heartbeat_ns:
            self._heartbeat_counter += 1
            self._next_heartbeat_ns = now_ns + NS
            now = _time(now_ns)
            beat = {"current_time": now, "heartbeat_counter": self._heartbeat_counter}
            out.data.append(self._envelope("heartbeats", now, [beat]))
        return out

    def _subscribed(self) -> bool:
        return bool(self._next_heartbeat_ns) or any(self._subs.values())

    def on_slow_client(self) -> list[str]:
        return []

    def on_close(self) -> None:
        return None


def _validate(msg: Any, products: Mapping[str, object]) -> str | None:
    """Why a client message is not a valid (un)subscribe, or None."""
    if not isinstance(msg, dict):
        return "Failed to parse message: not a JSON object"
    if msg.get("type") not in ("subscribe", "unsubscribe"):
        return f"unknown message type {msg.get('type')!r}"
    if msg.get("channel") not in WIRE_CHANNEL:
        return f"unknown channel {msg.get('channel')!r}; valid: {list(WIRE_CHANNEL)}"
    ids = msg.get("product_ids", [])
    if not isinstance(ids, list) or (msg["channel"] != "heartbeats" and not ids):
        return "product_ids must be a non-empty list"
    unknown = [p for p in ids if p not in products]
    return f"unknown product_ids {unknown}" if unknown else None
