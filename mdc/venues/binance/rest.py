"""Binance REST: depth snapshot and trade history request shapes, and their replies decoded."""

from __future__ import annotations

import msgspec

from mdc.events import BookSnapshot, Trade
from mdc.sync import FetchTrades, NeedSnapshot
from mdc.venues.base import HttpGet, Outgoing, SessionConfig, TradeBatch
from mdc.venues.binance.parse import _AGGRESSOR, MS, NAME, wire_symbol
from mdc.venues.binance.wire import _DepthSnapshot, _HistoricalTrade, _RestAggTrade

HISTORY_LIMIT = 1000


class BinanceRest:
    """The REST half of `Binance`, mixed into it: `Binance.__init__` builds the decoders used
    here, and `malformed` is `Venue`'s."""

    _snapshot: msgspec.json.Decoder[_DepthSnapshot]
    _history: msgspec.json.Decoder[list[_HistoricalTrade]]
    _rest_agg: msgspec.json.Decoder[list[_RestAggTrade]]

    def snapshot_request(self, need: NeedSnapshot, config: SessionConfig) -> list[Outgoing]:
        limit = str(config.depth or 1000)
        params = (("symbol", wire_symbol(need.symbol)), ("limit", limit))
        return [HttpGet("snapshot", need.symbol, "/api/v3/depth", params)]

    def decode_snapshot(self, request: HttpGet, body: bytes, ts_recv: int) -> BookSnapshot:
        try:
            m = self._snapshot.decode(body)
        except msgspec.DecodeError as exc:
            raise self.malformed(f"depth snapshot: {exc}", body) from exc
        return BookSnapshot(
            NAME, request.symbol, ts_recv, ts_recv, m.bids, m.asks, update_id=m.lastUpdateId
        )

    def trades_request(self, fetch: FetchTrades, config: SessionConfig) -> HttpGet | None:
        if fetch.from_id is None:
            return None
        want = HISTORY_LIMIT if fetch.to_id is None else fetch.to_id - fetch.from_id + 1
        params = (
            ("symbol", wire_symbol(fetch.symbol)),
            ("fromId", str(fetch.from_id)),
            ("limit", str(min(want, HISTORY_LIMIT))),
        )
        return HttpGet("trades", fetch.symbol, "/api/v3/historicalTrades", params, backfill=fetch)

    def decode_trades(self, request: HttpGet, body: bytes, ts_recv: int) -> TradeBatch:
        try:
            rows = self._history.decode(body)
        except msgspec.DecodeError as exc:
            raise self.malformed(f"historicalTrades: {exc}", body) from exc
        trades = [
            Trade(
                NAME,
                request.symbol,
                r.time * MS,
                ts_recv,
                r.price,
                r.qty,
                _AGGRESSOR[r.isBuyerMaker],
                r.id,
            )
            for r in rows
        ]
        return TradeBatch(trades, self._next_page(request, trades))

    def decode_agg_trades(self, symbol: str, body: bytes, ts_recv: int) -> list[Trade]:
        """`/api/v3/aggTrades` history (aggregate ids)."""
        try:
            rows = self._rest_agg.decode(body)
        except msgspec.DecodeError as exc:
            raise self.malformed(f"aggTrades: {exc}", body) from exc
        return [
            Trade(NAME, symbol, r.T * MS, ts_recv, r.p, r.q, _AGGRESSOR[r.m], r.a, aggregate=True)
            for r in rows
        ]

    def _next_page(self, request: HttpGet, trades: list[Trade]) -> HttpGet | None:
        fetch = request.backfill
        if fetch is None or not trades or len(trades) < int(dict(request.params)["limit"]):
            return None
        last = max(t.trade_id or 0 for t in trades)
        if fetch.to_id is not None and last >= fetch.to_id:
            return None
        follow_up = FetchTrades(fetch.symbol, last + 1, fetch.to_id, fetch.from_ts)
        return self.trades_request(follow_up, SessionConfig(symbols=(fetch.symbol,)))
