"""Alpaca market data v2 (spec section 4): array frames, auth, trades/quotes/minute bars, REST.

All simulated trades print on IEX (`x` "V", tape "C", conditions ["@"]); trade ids `i` are
contiguous per symbol. Quotes are sent whenever the top of book changes; a minute bar is sent
when the first event of the next minute arrives.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import msgspec

from mdc.events import Trade
from mdc.simulator.config import INSTRUMENTS, SimulatorConfig
from mdc.simulator.encoders.alpaca_session import FEEDS, AlpacaSession, reject_feed
from mdc.simulator.encoders.base import (
    HttpReply,
    Publication,
    Venue,
    dumps,
    plain,
    raw_number,
    rfc3339,
)
from mdc.simulator.model import MarketModel, ModelEvent, ModelTrade
from mdc.timefmt import BadTimestamp, parse_rfc3339_ns

MINUTE_NS = 60_000_000_000
EXCHANGE, TAPE, CONDITIONS = "V", "C", ("@",)
CROSSING_EXCHANGE = "Q"
"""Whose bid crosses IEX's ask in a crossed quotes fault (a consolidated quote can cross)."""
MAX_REST_LIMIT = 10_000


def _time(ts_ns: int) -> str:
    return rfc3339(ts_ns, 9)


def _num(value: Decimal) -> msgspec.Raw:
    return raw_number(plain(value))


def _raw(obj: Any) -> msgspec.Raw:
    return msgspec.Raw(dumps(obj).encode())


class _BarBuilder:
    """Trades of the current minute for one symbol."""

    def __init__(self) -> None:
        self.start_ns = -1
        self.prices: list[Decimal] = []
        self.volume = Decimal(0)
        self.notional = Decimal(0)

    def add(self, trade: ModelTrade) -> None:
        self.prices.append(trade.price)
        self.volume += trade.size
        self.notional += trade.price * trade.size

    def item(self, symbol: str) -> dict[str, Any]:
        vwap = (self.notional / self.volume).quantize(Decimal("0.0001"))
        return {
            "T": "b",
            "S": symbol,
            "o": _num(self.prices[0]),
            "h": _num(max(self.prices)),
            "l": _num(min(self.prices)),
            "c": _num(self.prices[-1]),
            "v": int(self.volume),
            "n": len(self.prices),
            "vw": _num(vwap),
            "t": rfc3339(self.start_ns, 0),
        }


class AlpacaVenue(Venue):
    name = "alpaca"
    ts_unit_ns = 1
    default_ws_path = "/v2/iex"
    instruments = INSTRUMENTS["alpaca"]
    generic_lot = Decimal("1")  # whole shares
    generic_max_lots = 300

    def __init__(self, model: MarketModel, config: SimulatorConfig) -> None:
        super().__init__(model, config)
        self.active_keys: set[str] = set()
        self._tops: dict[str, Any] = {}
        self._bars = {s: _BarBuilder() for s in self.model.symbols}
        self._crossed_until_ns: dict[str, int] = {}

    def cross_quotes(self, symbols: list[str], until_ns: int) -> None:
        for symbol in symbols:
            self._crossed_until_ns[symbol] = until_ns

    def render(self, event: ModelEvent) -> list[Publication]:
        pubs = self._roll_bar(event.symbol, event.ts_ns)
        if isinstance(event, ModelTrade):
            self._bars[event.symbol].add(event)
            return [*pubs, Publication(("trades", event.symbol), _raw(self.ws_trade(event)))]
        book = self.mirror[event.symbol]
        top = (book.best("bid"), book.best("ask"))
        crossed = event.ts_ns < self._crossed_until_ns.get(event.symbol, 0)
        if crossed or top != self._tops.get(event.symbol):
            self._tops[event.symbol] = None if crossed else top
            pubs.append(self._quote(event, top, crossed))
        return pubs

    def _quote(self, event: ModelEvent, top: Any, crossed: bool) -> Publication:
        """The top of book; crossed: another exchange's bid a tick above the ask."""
        (bp, bs), (ap, asz) = top
        bx = EXCHANGE
        if crossed:
            bx, bp = CROSSING_EXCHANGE, ap + self.model.symbols[event.symbol].spec.tick
        quote = {"T": "q", "S": event.symbol, "bx": bx, "bp": _num(bp), "bs": int(bs)}
        quote |= {"ax": EXCHANGE, "ap": _num(ap), "as": int(asz), "c": ["R"], "z": TAPE}
        quote["t"] = _time(event.ts_ns)
        return Publication(("quotes", event.symbol), _raw(quote))

    def _roll_bar(self, symbol: str, ts_ns: int) -> list[Publication]:
        bar = self._bars[symbol]
        minute = ts_ns - ts_ns % MINUTE_NS
        if minute == bar.start_ns:
            return []
        done = bar.item(symbol) if bar.prices else None
        self._bars[symbol] = _BarBuilder()
        self._bars[symbol].start_ns = minute
        return [Publication(("bars", symbol), _raw(done))] if done else []

    @staticmethod
    def ws_trade(trade: ModelTrade) -> dict[str, Any]:
        return {
            "T": "t",
            "i": trade.trade_id,
            "S": trade.symbol,
            "x": EXCHANGE,
            "p": _num(trade.price),
            "s": int(trade.size),
            "c": list(CONDITIONS),
            "z": TAPE,
            "t": _time(trade.ts_ns),
        }

    def truth_trade(self, trade: ModelTrade) -> Trade:
        base = super().truth_trade(trade)
        return msgspec.structs.replace(base, exchange=EXCHANGE, conditions=CONDITIONS, tape=TAPE)

    def credentials_ok(self, key: Any, secret: Any) -> bool:
        return key == self.config.alpaca_key and secret == self.config.alpaca_secret

    def open_session(
        self, path: str, query: Mapping[str, str], headers: Mapping[str, str]
    ) -> AlpacaSession:
        feed = path.removeprefix("/v2/")
        if not path.startswith("/v2/") or feed not in FEEDS:
            raise reject_feed(path)
        return AlpacaSession(self, headers)

    def rest(self, path: str, query: Mapping[str, str], headers: Mapping[str, str]) -> HttpReply:
        parts = path.strip("/").split("/")
        if len(parts) != 4 or parts[:2] != ["v2", "stocks"] or parts[3] != "trades":
            return HttpReply(404, dumps({"message": "Not Found"}))
        key, secret = headers.get("APCA-API-KEY-ID"), headers.get("APCA-API-SECRET-KEY")
        if key is None or secret is None:
            return HttpReply(401, dumps({"message": "unauthorized."}))
        if not self.credentials_ok(key, secret):
            return HttpReply(403, dumps({"message": "forbidden."}))
        try:
            return self._rest_trades(parts[2], query)
        except (ValueError, BadTimestamp) as exc:
            return HttpReply(400, dumps({"message": f"invalid request parameter: {exc}"}))

    def _rest_trades(self, symbol: str, query: Mapping[str, str]) -> HttpReply:
        limit = int(query.get("limit") or 1000)
        if not 1 <= limit <= MAX_REST_LIMIT:
            raise ValueError(f"limit must be 1..{MAX_REST_LIMIT}")
        start = parse_rfc3339_ns(query["start"]) if query.get("start") else 0
        end = parse_rfc3339_ns(query["end"]) if query.get("end") else 2**63
        token = query.get("page_token")
        first_id = int(base64.urlsafe_b64decode(token.encode())) if token else 0
        trades = [
            t
            for t in self.history.trades(symbol)
            if start <= t.ts_ns <= end and t.trade_id >= first_id
        ]
        page, more = trades[:limit], trades[limit:]
        next_token = (
            base64.urlsafe_b64encode(str(more[0].trade_id).encode()).decode() if more else None
        )
        items = [{k: v for k, v in self.ws_trade(t).items() if k not in ("T", "S")} for t in page]
        body = {"trades": items, "symbol": symbol, "next_page_token": next_token}
        return HttpReply(200, dumps(body))
