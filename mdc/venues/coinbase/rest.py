"""Coinbase Exchange REST: book snapshot and trade history request shapes, replies decoded."""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from mdc.events import BookSnapshot, Trade
from mdc.sync import FetchTrades
from mdc.venues.base import HttpGet, SessionConfig, TradeBatch
from mdc.venues.coinbase.parse import _OPPOSITE, NAME, _by_id, _digits, _Malformed
from mdc.venues.coinbase.wire import RestBook, RestTrade

HISTORY_LIMIT = 100


class CoinbaseRest:
    """The REST half of `Coinbase`, mixed into it: `Coinbase.__init__` builds the decoders and
    the `_ns` time parser used here, and `malformed` is `Venue`'s."""

    _rest_trades: msgspec.json.Decoder[list[RestTrade]]
    _rest_book: msgspec.json.Decoder[RestBook]
    _ns: Callable[[str], int]

    def decode_snapshot(self, request: HttpGet, body: bytes, ts_recv: int) -> BookSnapshot:
        """`GET /products/{id}/book?level=2`: [price, size, num_orders] rows and a `sequence`."""
        try:
            m = self._rest_book.decode(body)
            ts_event = self._ns(m.time) if m.time else ts_recv
        except (msgspec.DecodeError, _Malformed) as exc:
            raise self.malformed(f"book snapshot: {exc}", body) from exc
        bids = tuple((price, size) for price, size, _ in m.bids)
        asks = tuple((price, size) for price, size, _ in m.asks)
        return BookSnapshot(
            NAME, request.symbol, ts_event, ts_recv, bids, asks, update_id=m.sequence
        )

    def trades_request(self, fetch: FetchTrades, config: SessionConfig) -> HttpGet | None:
        """`GET /products/{id}/trades?after=<to_id+1>`: the page of trades just below the cursor."""
        if fetch.from_id is None:
            return None
        after = None if fetch.to_id is None else fetch.to_id + 1
        return _trades_page(fetch, after)

    def decode_trades(self, request: HttpGet, body: bytes, ts_recv: int) -> TradeBatch:
        try:
            rows = self._rest_trades.decode(body)
            # REST `side` is the maker's side, as on the feed: the aggressor took the other one.
            trades = [
                Trade(NAME, request.symbol, self._ns(r.time), ts_recv, r.price, r.size,
                      _OPPOSITE[r.side], _digits(r.trade_id, "trade_id"))
                for r in rows
            ]  # fmt: skip
        except (msgspec.DecodeError, _Malformed) as exc:
            raise self.malformed(f"trades: {exc}", body) from exc
        trades.sort(key=_by_id)
        fetch = request.backfill
        if fetch is None:
            return TradeBatch(trades)
        low, high = fetch.from_id or 0, fetch.to_id
        wanted = [t for t in trades if low <= _by_id(t) and (high is None or _by_id(t) <= high)]
        more = len(rows) >= HISTORY_LIMIT and _by_id(trades[0]) > low
        return TradeBatch(wanted, _trades_page(fetch, _by_id(trades[0])) if more else None)


def _trades_page(fetch: FetchTrades, after: int | None) -> HttpGet:
    params = (("limit", str(HISTORY_LIMIT)),) if after is None else (
        ("after", str(after)), ("limit", str(HISTORY_LIMIT)))  # fmt: skip
    return HttpGet("trades", fetch.symbol, f"/products/{fetch.symbol}/trades", params,
                   backfill=fetch)  # fmt: skip
