"""Kraken spot websocket v2 (spec section 3) and the public REST Trades/Depth endpoints.

Book messages are rendered once per subscribable depth: each depth's view is the top N of the
book, an update carries the levels whose size changed inside that view, qty 0 only for levels
that left the book (levels merely pushed out of scope are not sent), and every snapshot and
update carries the CRC32 of the top 10 as sent. Numbers are JSON numbers written from
fixed-precision Decimal text, so trailing zeros survive.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

from mdc.events import Level
from mdc.simulator.config import INSTRUMENTS, SimulatorConfig
from mdc.simulator.encoders.base import (
    HttpReply,
    Publication,
    Venue,
    dumps,
    fixed,
    int_param,
    raw_number,
    rfc3339,
)
from mdc.simulator.encoders.kraken_session import DEPTHS, KrakenSession, reject_path
from mdc.simulator.model import MarketModel, ModelEvent, ModelTrade, SymbolSpec

NS = 1_000_000_000
CHECKSUM_LEVELS = 10
SNAPSHOT_TRADES = 50
MAX_REST_TRADES = 1000
REST_PAIRS = {"BTC-USD": ("XBTUSD", "XXBTZUSD"), "ETH-USD": ("ETHUSD", "XETHZUSD")}


def ws_symbol(symbol: str) -> str:
    return symbol.replace("-", "/")


LEGACY_CODES = {"BTC": "XBT", "DOGE": "XDG"}
"""Assets Kraken's REST still names by their legacy codes (its pair altnames: XBTUSD, XDGUSD)."""


def rest_pair(symbol: str) -> tuple[str, str]:
    """(request pair name, result key) as Kraken REST spells them."""
    base, _, quote = symbol.partition("-")
    altname = LEGACY_CODES.get(base, base) + LEGACY_CODES.get(quote, quote)
    return REST_PAIRS.get(symbol, (altname, altname))


def _time(ts_ns: int) -> str:
    return rfc3339(ts_ns, 6)


def checksum_text(asks: list[tuple[str, str]], bids: list[tuple[str, str]]) -> str:
    """Spec 3.2: top 10 asks then top 10 bids, each price+qty with '.' and leading 0s removed."""

    def part(levels: list[tuple[str, str]]) -> str:
        return "".join(
            p.replace(".", "").lstrip("0") + q.replace(".", "").lstrip("0")
            for p, q in levels[:CHECKSUM_LEVELS]
        )

    return part(asks) + part(bids)


class KrakenVenue(Venue):
    name = "kraken"
    ts_unit_ns = 1_000
    default_ws_path = "/v2"
    instruments = INSTRUMENTS["kraken"]
    collector_channels = ("book", "trade")  # no ticker channel here

    def __init__(self, model: MarketModel, config: SimulatorConfig) -> None:
        super().__init__(model, config)
        self.by_ws = {ws_symbol(s): s for s in self.model.symbols}
        self.by_pair = {rest_pair(s)[0]: s for s in self.model.symbols}
        self._views = {
            (s, self._scope(s, d)): self._view(s, self._scope(s, d))
            for s in self.model.symbols
            for d in DEPTHS
        }

    def _texts(self, spec: SymbolSpec, levels: tuple[Level, ...]) -> list[tuple[str, str]]:
        return [(fixed(p, spec.price_dp), fixed(q, spec.size_dp)) for p, q in levels]

    def _view(self, symbol: str, depth: int) -> dict[str, dict[Any, Any]]:
        book = self.mirror[symbol]
        return {side: dict(book.top(side, depth)) for side in ("bid", "ask")}

    def _book_body(self, symbol: str, levels: dict[str, list[Level]], ts_ns: int) -> dict[str, Any]:
        spec = self.model.symbols[symbol].spec
        book = self.mirror[symbol]
        asks = self._texts(spec, book.top("ask", CHECKSUM_LEVELS))
        bids = self._texts(spec, book.top("bid", CHECKSUM_LEVELS))
        crc = zlib.crc32(checksum_text(asks, bids).encode()) & 0xFFFFFFFF
        body: dict[str, Any] = {"symbol": ws_symbol(symbol)}
        for side in ("bid", "ask"):
            body[side + "s"] = [
                {"price": raw_number(p), "qty": raw_number(q)}
                for p, q in self._texts(spec, tuple(levels[side]))
            ]
        return body | {"checksum": crc, "timestamp": _time(ts_ns)}

    def render(self, event: ModelEvent) -> list[Publication]:
        if isinstance(event, ModelTrade):
            body = {"channel": "trade", "type": "update", "data": [self._trade(event)]}
            return [Publication(("trade", event.symbol), dumps(body))]
        frames: dict[int, str | None] = {}
        pubs = []
        for depth in DEPTHS:
            scope = self._scope(event.symbol, depth)
            if scope not in frames:
                frames[scope] = self._book_update(event.symbol, scope, event.ts_ns)
            if frames[scope] is not None:
                pubs.append(Publication(("book", event.symbol, depth), frames[scope]))
        return pubs

    def _scope(self, symbol: str, depth: int) -> int:
        """Depths beyond the most levels the model ever keeps see identical books and frames."""
        return min(depth, self.model.symbols[symbol].spec.levels)

    def _book_update(self, symbol: str, scope: int, ts_ns: int) -> str | None:
        old, new = self._views[(symbol, scope)], self._view(symbol, scope)
        self._views[(symbol, scope)] = new
        levels = {side: self._diff(symbol, side, old[side], new[side]) for side in new}
        if not (levels["bid"] or levels["ask"]):
            return None
        data = self._book_body(symbol, levels, ts_ns)
        return dumps({"channel": "book", "type": "update", "data": [data]})

    def _diff(
        self, symbol: str, side: str, old: dict[Any, Any], new: dict[Any, Any]
    ) -> list[Level]:
        changed = [(p, q) for p, q in new.items() if old.get(p) != q]
        gone = self.mirror[symbol].side(side)  # type: ignore[arg-type]
        removed = [(p, q * 0) for p, q in old.items() if p not in new and p not in gone]
        return changed + removed

    def _trade(self, trade: ModelTrade) -> dict[str, Any]:
        spec = self.model.symbols[trade.symbol].spec
        return {
            "symbol": ws_symbol(trade.symbol),
            "side": trade.aggressor,
            "price": raw_number(fixed(trade.price, spec.price_dp)),
            "qty": raw_number(fixed(trade.size, spec.size_dp)),
            "ord_type": "market",
            "trade_id": trade.trade_id,
            "timestamp": _time(trade.ts_ns),
        }

    def book_snapshot(self, symbol: str, depth: int) -> str:
        view = self._views[(symbol, self._scope(symbol, depth))]
        levels = {side: list(view[side].items()) for side in view}
        data = self._book_body(symbol, levels, self.model.symbols[symbol].last_ts_ns)
        return dumps({"channel": "book", "type": "snapshot", "data": [data]})

    def trade_snapshot(self, symbol: str) -> str:
        recent = list(self.history.trades(symbol))[-SNAPSHOT_TRADES:]
        data = [self._trade(t) for t in recent]
        return dumps({"channel": "trade", "type": "snapshot", "data": data})

    def open_session(
        self, path: str, query: Mapping[str, str], headers: Mapping[str, str]
    ) -> KrakenSession:
        if path != "/v2":
            raise reject_path(path)
        return KrakenSession(self)

    def rest(self, path: str, query: Mapping[str, str], headers: Mapping[str, str]) -> HttpReply:
        symbol = self.by_pair.get(query.get("pair", ""))
        if path not in ("/0/public/Trades", "/0/public/Depth"):
            return HttpReply(404, dumps({"error": ["EGeneral:Unknown method"]}))
        if symbol is None:
            return HttpReply(200, dumps({"error": ["EQuery:Unknown asset pair"]}))
        try:
            if path == "/0/public/Trades":
                return self._rest_trades(symbol, int_param(query, "since", None), query)
            return self._rest_depth(symbol, int_param(query, "count", 100) or 100)
        except ValueError:
            return HttpReply(200, dumps({"error": ["EGeneral:Invalid arguments"]}))

    def _rest_trades(self, symbol: str, since: int | None, query: Mapping[str, str]) -> HttpReply:
        count = min(MAX_REST_TRADES, int_param(query, "count", MAX_REST_TRADES) or MAX_REST_TRADES)
        trades = list(self.history.trades(symbol))
        if since is None:
            page = trades[-count:]
        else:
            page = [t for t in trades if self.wire_ts_ns(t.ts_ns) > since]
            page = _whole_ticks(page, count, self.wire_ts_ns)
        spec = self.model.symbols[symbol].spec
        rows = [self._rest_row(spec, t) for t in page]
        last = self.wire_ts_ns(page[-1].ts_ns) if page else (since or 0)
        result = {rest_pair(symbol)[1]: rows, "last": str(last)}
        return HttpReply(200, dumps({"error": [], "result": result}))

    def _rest_row(self, spec: SymbolSpec, trade: ModelTrade) -> list[Any]:
        us = self.wire_ts_ns(trade.ts_ns) // 1_000
        seconds = raw_number(f"{us // 1_000_000}.{us % 1_000_000:06d}")
        side = "b" if trade.aggressor == "buy" else "s"
        price, qty = fixed(trade.price, spec.price_dp), fixed(trade.size, spec.size_dp)
        return [price, qty, seconds, side, "m", "", trade.trade_id]

    def _rest_depth(self, symbol: str, count: int) -> HttpReply:
        spec = self.model.symbols[symbol].spec
        seconds = self.model.symbols[symbol].last_ts_ns // NS
        book = self.model.symbols[symbol].book
        result = {
            side + "s": [[p, q, seconds] for p, q in self._texts(spec, book.top(side, count))]
            for side in ("ask", "bid")
        }
        return HttpReply(200, dumps({"error": [], "result": {rest_pair(symbol)[1]: result}}))


def _whole_ticks(trades: list[ModelTrade], count: int, wire_ts: Any) -> list[ModelTrade]:
    """First `count` trades, extended so trades sharing the last timestamp are never split."""
    page = trades[:count]
    rest = trades[count:]
    while page and rest and wire_ts(rest[0].ts_ns) == wire_ts(page[-1].ts_ns):
        page.append(rest.pop(0))
    return page
