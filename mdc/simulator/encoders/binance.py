"""Binance spot wire format (spec section 1): combined/raw streams, depth, trades, REST.

One `depthUpdate` per symbol per model step spans every update id of that step (U..u
contiguous across frames); `@depth`, `@depth@100ms` and `@depth@1000ms` carry the same frames.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import msgspec

from mdc.simulator.config import INSTRUMENTS, SimulatorConfig
from mdc.simulator.encoders.base import (
    HandshakeRejected,
    HttpReply,
    Publication,
    SessionOutput,
    Venue,
    dumps,
    fixed,
    int_param,
    parse_json,
)
from mdc.simulator.model import BookUpdate, MarketModel, ModelEvent, ModelTrade

DP = 8
STREAM_TOPICS = {
    "trade": "trade",
    "depth": "depth",
    "depth@100ms": "depth",
    "depth@1000ms": "depth",
    "bookTicker": "bookTicker",
}
MAX_DEPTH_LIMIT = 5000
MAX_TRADES_LIMIT = 1000


def wire_symbol(symbol: str) -> str:
    return symbol.replace("-", "")


def _error(code: int, msg: str, status: int = 400) -> HttpReply:
    return HttpReply(status, dumps({"code": code, "msg": msg}))


def _levels(levels: list[tuple[Decimal, Decimal]]) -> list[list[str]]:
    return [[fixed(p, DP), fixed(q, DP)] for p, q in levels]


class BinanceVenue(Venue):
    name = "binance"
    ts_unit_ns = 1_000_000
    default_ws_path = "/stream"
    instruments = INSTRUMENTS["binance"]

    def __init__(self, model: MarketModel, config: SimulatorConfig) -> None:
        super().__init__(model, config)
        self.by_wire = {wire_symbol(s).lower(): s for s in self.model.symbols}
        self._pending: dict[str, list[BookUpdate]] = {}
        self._tops: dict[str, tuple[object, object]] = {}

    def publish(self, events: list[ModelEvent]) -> list[Publication]:
        self._pending = {}
        pubs = super().publish(events)
        return pubs + [self._depth(symbol, ups) for symbol, ups in self._pending.items()]

    def render(self, event: ModelEvent) -> list[Publication]:
        if isinstance(event, ModelTrade):
            return [self._trade(event)]
        self._pending.setdefault(event.symbol, []).append(event)
        book = self.mirror[event.symbol]
        top = (book.best("bid"), book.best("ask"))
        if top == self._tops.get(event.symbol):
            return []
        self._tops[event.symbol] = top
        (bp, bq), (ap, aq) = top  # type: ignore[misc]
        body = {"u": event.update_id, "s": wire_symbol(event.symbol), "b": fixed(bp, DP)}
        body |= {"B": fixed(bq, DP), "a": fixed(ap, DP), "A": fixed(aq, DP)}
        return [Publication(("bookTicker", event.symbol), msgspec.Raw(dumps(body).encode()))]

    def _trade(self, trade: ModelTrade) -> Publication:
        ms = trade.ts_ns // self.ts_unit_ns
        body = {"e": "trade", "E": ms, "s": wire_symbol(trade.symbol), "t": trade.trade_id}
        body |= {"p": fixed(trade.price, DP), "q": fixed(trade.size, DP), "T": ms}
        body |= {"m": trade.aggressor == "sell", "M": True}
        return Publication(("trade", trade.symbol), msgspec.Raw(dumps(body).encode()))

    def _depth(self, symbol: str, updates: list[BookUpdate]) -> Publication:
        final: dict[tuple[str, Decimal], Decimal] = {}
        for update in updates:
            for side, price, size in update.changes:
                final.pop((side, price), None)
                final[(side, price)] = size
        body = {"e": "depthUpdate", "E": updates[-1].ts_ns // self.ts_unit_ns}
        body |= {"s": wire_symbol(symbol), "U": updates[0].update_id, "u": updates[-1].update_id}
        body["b"] = _levels([(p, q) for (side, p), q in final.items() if side == "bid"])
        body["a"] = _levels([(p, q) for (side, p), q in final.items() if side == "ask"])
        return Publication(("depth", symbol), msgspec.Raw(dumps(body).encode()))

    def stream_topic(self, stream: str) -> tuple[str, str] | None:
        """'btcusdt@depth@100ms' -> ('depth', 'BTC-USDT'); None if the name is malformed."""
        wire, _, kind = stream.partition("@")
        topic = STREAM_TOPICS.get(kind)
        if not wire or topic is None:
            return None
        return topic, self.by_wire.get(wire, wire.upper())

    def open_session(
        self, path: str, query: Mapping[str, str], headers: Mapping[str, str]
    ) -> BinanceSession:
        if path == "/stream":
            streams, combined = [s for s in query.get("streams", "").split("/") if s], True
        elif path.startswith("/ws/"):
            streams, combined = [s for s in path[4:].split("/") if s], False
        elif path == "/ws":
            streams, combined = [], False
        else:
            raise HandshakeRejected(_error(-1000, f"Unknown path {path}", 404))
        session = BinanceSession(self, combined)
        if not session.subscribe(streams):
            raise HandshakeRejected(_error(-1100, f"Invalid stream name in {streams}"))
        return session

    def rest(self, path: str, query: Mapping[str, str], headers: Mapping[str, str]) -> HttpReply:
        handler = {"/api/v3/depth": self._rest_depth, "/api/v3/historicalTrades": self._rest_trades}
        if path not in handler:
            return _error(-1000, f"Unknown endpoint {path}", 404)
        symbol = self.by_wire.get(query.get("symbol", "").lower())
        if symbol is None:
            return _error(-1121, "Invalid symbol.")
        try:
            return handler[path](symbol, query)
        except ValueError:
            return _error(-1100, "Illegal characters found in a parameter.")

    def _rest_depth(self, symbol: str, query: Mapping[str, str]) -> HttpReply:
        limit = int_param(query, "limit", 100)
        if limit is None or not 1 <= limit <= MAX_DEPTH_LIMIT:
            return _error(-1130, "Data sent for parameter 'limit' is not valid.")
        model = self.model.symbols[symbol]
        body = {"lastUpdateId": model.update_id}
        body |= {"bids": _levels(list(model.book.top("bid", limit)))}
        body |= {"asks": _levels(list(model.book.top("ask", limit)))}
        return HttpReply(200, dumps(body))

    def _rest_trades(self, symbol: str, query: Mapping[str, str]) -> HttpReply:
        limit = int_param(query, "limit", 500)
        from_id = int_param(query, "fromId", None)
        if limit is None or not 1 <= limit <= MAX_TRADES_LIMIT:
            return _error(-1130, "Data sent for parameter 'limit' is not valid.")
        trades = self.history.trades(symbol)
        if from_id is None:
            page = list(trades)[-limit:]
        else:
            page = self.history.from_id(symbol, from_id, limit)
        return HttpReply(200, dumps([self._rest_trade(t) for t in page]))

    def _rest_trade(self, trade: ModelTrade) -> dict[str, object]:
        return {
            "id": trade.trade_id,
            "price": fixed(trade.price, DP),
            "qty": fixed(trade.size, DP),
            "quoteQty": fixed(trade.price * trade.size, DP),
            "time": trade.ts_ns // self.ts_unit_ns,
            "isBuyerMaker": trade.aggressor == "sell",
            "isBestMatch": True,
        }


class BinanceSession:
    """One connection: its streams, live (UN)SUBSCRIBE, combined or raw framing."""

    def __init__(self, venue: BinanceVenue, combined: bool) -> None:
        self._venue = venue
        self._combined = combined
        self._streams: dict[str, tuple[str, str]] = {}

    def subscribe(self, streams: list[str]) -> bool:
        topics = [self._venue.stream_topic(s) for s in streams]
        if any(t is None for t in topics):
            return False
        self._streams.update(zip(streams, topics, strict=True))  # type: ignore[arg-type]
        return True

    def on_open(self, now_ns: int) -> SessionOutput:
        return SessionOutput()

    def on_message(self, text: str, now_ns: int) -> SessionOutput:
        msg = parse_json(text)
        if not isinstance(msg, dict) or not isinstance(msg.get("params", []), list):
            return SessionOutput([dumps({"error": {"code": 3, "msg": "Invalid JSON"}, "id": None})])
        method, params, req_id = msg.get("method"), msg.get("params", []), msg.get("id")
        if method == "SUBSCRIBE" and self.subscribe([str(p) for p in params]):
            return SessionOutput([dumps({"result": None, "id": req_id})])
        if method == "UNSUBSCRIBE":
            for stream in params:
                self._streams.pop(str(stream), None)
            return SessionOutput([dumps({"result": None, "id": req_id})])
        if method == "LIST_SUBSCRIPTIONS":
            return SessionOutput([dumps({"result": list(self._streams), "id": req_id})])
        error = {"code": 2, "msg": f"Invalid request: {method} {params}"}
        return SessionOutput([dumps({"error": error, "id": req_id})])

    def on_publications(self, pubs: list[Publication], now_ns: int) -> SessionOutput:
        out = SessionOutput()
        for pub in pubs:
            for stream, topic in self._streams.items():
                if topic != pub.topic:
                    continue
                if self._combined:
                    out.data.append(dumps({"stream": stream, "data": pub.body}))
                else:
                    out.data.append(bytes(pub.body).decode())
        return out

    def on_tick(self, now_ns: int) -> SessionOutput:
        return SessionOutput()

    def on_slow_client(self) -> list[str]:
        return []

    def on_close(self) -> None:
        return None
