"""Kraken REST: trade history (and depth) request shapes, replies decoded, legacy pair names."""

from __future__ import annotations

import msgspec

from mdc.errors import VenueRejected
from mdc.events import BookSnapshot, Trade
from mdc.sync import FetchTrades
from mdc.venues.base import HttpGet, SessionConfig, TradeBatch
from mdc.venues.kraken.parse import LEGACY_ASSETS, NAME, V1_ORDER_TYPES, V1_SIDES
from mdc.venues.kraken.wire import RestDepth, RestTrade, RestTrades

REST_PAGE = 1000
COMMON_ASSETS = {common: legacy for legacy, common in LEGACY_ASSETS.items()}


class KrakenRest:
    """The REST half of `Kraken`, mixed into it: `Kraken.__init__` builds the decoders used
    here, and `malformed` is `Venue`'s."""

    _rest_trades: msgspec.json.Decoder[RestTrades]
    _rest_depth: msgspec.json.Decoder[RestDepth]

    def decode_snapshot(self, request: HttpGet, body: bytes, ts_recv: int) -> BookSnapshot:
        """`/0/public/Depth` (not needed by the session: resubscribing brings a snapshot)."""
        book = self._rest_result(self._rest_depth, body, "Depth")
        if len(book) != 1:
            raise self.malformed("Depth result must hold exactly one pair", body)
        side = next(iter(book.values()))
        bids = tuple([(lv.price, lv.volume) for lv in side.bids])
        asks = tuple([(lv.price, lv.volume) for lv in side.asks])
        return BookSnapshot(NAME, request.symbol, ts_recv, ts_recv, bids, asks)

    def trades_request(self, fetch: FetchTrades, config: SessionConfig) -> HttpGet | None:
        """`since` is Kraken's exclusive ns cursor; without a time, the latest page is asked for."""
        params: list[tuple[str, str]] = [("pair", rest_pair(fetch.symbol))]
        if fetch.from_ts is not None:
            params.append(("since", str(max(fetch.from_ts - 1, 0))))
        elif fetch.from_id is None:
            return None
        return HttpGet("trades", fetch.symbol, "/0/public/Trades", tuple(params), backfill=fetch)

    def decode_trades(self, request: HttpGet, body: bytes, ts_recv: int) -> TradeBatch:
        result = self._rest_result(self._rest_trades, body, "Trades")
        last = result.get("last")
        rows = [v for k, v in result.items() if k != "last"]
        if len(rows) != 1 or not isinstance(rows[0], list) or not isinstance(last, str):
            raise self.malformed("Trades result must hold one pair's rows and 'last'", body)
        fetch = request.backfill
        low = fetch.from_id if fetch and fetch.from_id is not None else None
        high = fetch.to_id if fetch else None
        trades = [
            Trade(NAME, request.symbol, int(r.time.scaleb(9)), ts_recv, r.price, r.volume,
                  V1_SIDES[r.side], r.trade_id, conditions=(V1_ORDER_TYPES[r.order_type],))
            for r in rows[0]
            if (low is None or r.trade_id >= low) and (high is None or r.trade_id <= high)
        ]  # fmt: skip
        return TradeBatch(trades, _next_page(request, rows[0], last))

    def _rest_result(self, decoder: msgspec.json.Decoder, body: bytes, what: str) -> dict:
        try:
            reply = decoder.decode(body)
        except msgspec.DecodeError as exc:
            raise self.malformed(f"{what}: {exc}", body) from exc
        if reply.error:
            permanent = any(e.startswith("EQuery:") for e in reply.error)
            raise VenueRejected(NAME, None, "; ".join(reply.error), permanent=permanent)
        return reply.result


def _next_page(request: HttpGet, rows: list[RestTrade], last: str) -> HttpGet | None:
    """Page on with the `last` cursor until the wanted ids are covered (or history runs out)."""
    fetch = request.backfill
    params = dict(request.params)
    if fetch is None or not rows or last == params.get("since"):
        return None
    newest = max(r.trade_id for r in rows)
    wanted_more = newest < fetch.to_id if fetch.to_id is not None else len(rows) >= REST_PAGE
    if not wanted_more:
        return None
    params["since"] = last
    return HttpGet("trades", request.symbol, request.path, tuple(params.items()), backfill=fetch)


def rest_pair(symbol: str) -> str:
    """'BTC-USD' -> 'XBTUSD' (REST still takes the legacy asset codes)."""
    base, _, quote = symbol.upper().partition("-")
    return COMMON_ASSETS.get(base, base) + COMMON_ASSETS.get(quote, quote)
