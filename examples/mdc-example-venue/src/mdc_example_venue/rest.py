"""REST requests (depth snapshot, trade history by id) as data, and their replies as events.

The Session never does I/O: it hands these `HttpGet`s to the shell, which fetches them and
passes the body back; the decoders here turn it into events and, for a long backfill, the
request for the next page.
"""

from __future__ import annotations

import msgspec

from mdc.events import BookSnapshot
from mdc.sync import FetchTrades, NeedSnapshot
from mdc.venues.base import HttpGet, TradeBatch

from .parse import to_snapshot, to_trade
from .wire import DEPTH_PATH, HISTORY_LIMIT, TRADES_PATH, RestDepth, RestTrades


def depth_request(need: NeedSnapshot) -> HttpGet:
    """The whole book: the venue sends every level, so no depth limit is asked for."""
    return HttpGet("snapshot", need.symbol, DEPTH_PATH, (("symbol", need.symbol),))


def trades_request(fetch: FetchTrades) -> HttpGet | None:
    """Trades `from_id`..`to_id` (or onward, when `to_id` is None), one page at most."""
    if fetch.from_id is None:
        return None  # ids are consecutive here: the Session always knows the first one missing
    want = HISTORY_LIMIT if fetch.to_id is None else fetch.to_id - fetch.from_id + 1
    params = (
        ("symbol", fetch.symbol),
        ("from_id", str(fetch.from_id)),
        ("limit", str(max(1, min(want, HISTORY_LIMIT)))),
    )
    return HttpGet("trades", fetch.symbol, TRADES_PATH, params, backfill=fetch)


def decode_depth(request: HttpGet, body: bytes, ts_recv: int) -> BookSnapshot:
    """Raises msgspec.DecodeError (the venue wraps it as a malformed message)."""
    return to_snapshot(msgspec.json.decode(body, type=RestDepth), ts_recv)


def decode_trades(request: HttpGet, body: bytes, ts_recv: int) -> TradeBatch:
    """One page of history; a full page that stops short of `to_id` asks for the next one."""
    page = msgspec.json.decode(body, type=RestTrades)
    fetch = request.backfill
    trades = [to_trade(request.symbol, t, ts_recv) for t in page.trades]
    if fetch is not None and fetch.to_id is not None:
        trades = [t for t in trades if t.trade_id is not None and t.trade_id <= fetch.to_id]
    return TradeBatch(trades, _next_page(request, page))


def _next_page(request: HttpGet, page: RestTrades) -> HttpGet | None:
    fetch = request.backfill
    if fetch is None or not page.trades or len(page.trades) < int(dict(request.params)["limit"]):
        return None
    last = max(t.id for t in page.trades)
    if fetch.to_id is not None and last >= fetch.to_id:
        return None
    return trades_request(FetchTrades(fetch.symbol, last + 1, fetch.to_id, fetch.from_ts))
