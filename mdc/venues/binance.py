"""Binance spot: trade, aggTrade, bookTicker and diff-depth streams, REST depth and trade history.

Wire facts (specs/exchanges.md section 1): prices and quantities are JSON strings; times are ms;
combined-stream frames wrap the payload as {"stream", "data"}; `m` means the buyer was the maker,
so the aggressor sold; diff-depth `U`/`u` are the first/last update ids, and the documented
snapshot procedure is the SequenceRules straddle rule.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation

import msgspec

from mdc.events import Bar, BookDelta, BookSnapshot, Event, Level, Quote, Trade
from mdc.sync import FetchTrades, NeedSnapshot, SequenceRules
from mdc.venues.base import (
    Control,
    HttpGet,
    Outgoing,
    SessionConfig,
    Subscribed,
    TradeBatch,
    Venue,
    VenueError,
)
from mdc.venues.decimals import DecimalTexts, Price, PriceLevel, TextDecoder
from mdc.venues.storable import ratio

MS = 1_000_000
NAME = "binance"
# Longest first, so "BTCUSDT" splits as BTC/USDT and not BTCUSD/T.
QUOTE_ASSETS = sorted(
    (
        "USDT",
        "USDC",
        "FDUSD",
        "BUSD",
        "TUSD",
        "USDP",
        "DAI",
        "BTC",
        "ETH",
        "BNB",
        "EUR",
        "GBP",
        "TRY",
        "BRL",
        "AUD",
        "JPY",
        "RUB",
        "UAH",
        "BIDR",
        "IDRT",
        "ZAR",
        "PLN",
        "RON",
        "ARS",
        "MXN",
        "TRX",
        "XRP",
        "DOGE",
        "DOT",
        "SOL",
        "PAX",
        "USDS",
        "NGN",
        "VAI",
    ),
    key=len,
    reverse=True,
)
HISTORY_LIMIT = 1000
KLINE_SECONDS = {
    f"{n}{unit}": n * seconds
    for unit, seconds, counts in (
        ("s", 1, (1,)),
        ("m", 60, (1, 3, 5, 15, 30)),
        ("h", 3600, (1, 2, 4, 6, 8, 12)),
        ("d", 86400, (1, 3)),
        ("w", 604800, (1,)),
    )
    for n in counts
}


class _Trade(msgspec.Struct, gc=False):
    s: str
    t: int
    p: Price
    q: Decimal
    T: int
    m: bool


class _AggTrade(msgspec.Struct, gc=False):
    s: str
    a: int
    p: Price
    q: Decimal
    T: int
    m: bool


class _Depth(msgspec.Struct, gc=False):
    E: int
    s: str
    U: int
    u: int
    b: tuple[PriceLevel, ...]
    a: tuple[PriceLevel, ...]


class _BookTicker(msgspec.Struct, gc=False):
    u: int
    s: str
    b: Price
    B: Decimal
    a: Price
    A: Decimal
    E: int | None = None
    T: int | None = None


class _Kline(msgspec.Struct, gc=False):
    t: int
    i: str
    o: Decimal
    h: Decimal
    l: Decimal  # noqa: E741 - the venue's field name
    c: Decimal
    v: Decimal
    n: int
    x: bool
    q: Decimal | None = None


class _KlineEvent(msgspec.Struct, gc=False):
    s: str
    k: _Kline


class _Envelope(msgspec.Struct, gc=False):
    """Either a combined-stream frame, a bare payload (routed by `e`), an ack or an error."""

    stream: str | None = None
    data: msgspec.Raw = msgspec.Raw(b"")
    e: str | None = None
    u: int | None = None
    id: int | str | None = None
    code: int | None = None
    msg: str | None = None
    error: msgspec.Raw = msgspec.Raw(b"")


class _DepthSnapshot(msgspec.Struct, gc=False):
    lastUpdateId: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]


class _HistoricalTrade(msgspec.Struct, gc=False):
    id: int
    price: Decimal
    qty: Decimal
    time: int
    isBuyerMaker: bool


class _RestAggTrade(msgspec.Struct, gc=False):
    a: int
    p: Decimal
    q: Decimal
    T: int
    m: bool


class _ErrorBody(msgspec.Struct, gc=False):
    code: int
    msg: str


_AGGRESSOR = ("buy", "sell")
"""Indexed by `m` (the buyer was the maker): then the aggressor sold."""


class Binance(Venue):
    name = NAME
    default_ws_url = "wss://stream.binance.com:9443"
    default_rest_url = "https://api.binance.com"
    default_channels = ("trade", "depth@100ms", "bookTicker")
    consecutive_trade_ids = True
    book_update_ids = True

    def __init__(self) -> None:
        self._envelope = msgspec.json.Decoder(_Envelope)
        self._payloads = {
            "trade": (TextDecoder(_Trade), self._trade),
            "aggTrade": (TextDecoder(_AggTrade), self._agg_trade),
            "depthUpdate": (TextDecoder(_Depth), self._depth),
            "bookTicker": (TextDecoder(_BookTicker), self._book_ticker),
            "kline": (TextDecoder(_KlineEvent), self._kline),
        }
        self._framed = {
            kind: (TextDecoder(_frame_of(decoder.type)), build)
            for kind, (decoder, build) in self._payloads.items()
        }
        self._by_stream: dict[bytes, tuple[Callable, Callable]] = {}
        self._dec = DecimalTexts()
        self._snapshot = msgspec.json.Decoder(_DepthSnapshot)
        self._history = msgspec.json.Decoder(list[_HistoricalTrade])
        self._rest_agg = msgspec.json.Decoder(list[_RestAggTrade])
        self._symbols: dict[str, str] = {}

    # -- websocket -------------------------------------------------------------------------

    def decode(self, data: bytes, ts_recv: int) -> list[Event | Control]:
        """Hot path: a combined-stream frame decodes in one pass (frame and payload together),
        routed by peeking at its stream name; anything that fails there takes the general path,
        which decodes the envelope first and the payload second."""
        if data.startswith(b'{"stream":"'):
            route = self._by_stream.get(data[11 : data.find(b'"', 11)]) or self._learn(data)
            if route is not None:
                try:
                    return route[1](route[0](data).data, ts_recv)
                except (msgspec.DecodeError, InvalidOperation):
                    pass
        try:
            env = self._envelope.decode(data)
            if env.data:
                kind = _stream_kind(env.stream or "")
                return self._payload(kind, env.data, ts_recv)
            if env.e is not None or env.u is not None:
                return self._payload(env.e or "bookTicker", data, ts_recv)
        except (msgspec.DecodeError, KeyError) as exc:
            raise self.malformed(str(exc), data) from exc
        return self._control(env, data)

    def _learn(self, data: bytes) -> tuple[Callable, Callable] | None:
        """The one-pass route for a stream name not seen before (remembered, bounded)."""
        stream = data[len(_STREAM_PREFIX) : data.find(b'"', len(_STREAM_PREFIX))]
        framed = self._framed.get(_stream_kind(stream.decode()))
        if framed is None:
            return None
        route = (framed[0].fast, framed[1])
        if len(self._by_stream) < 10_000:
            self._by_stream[stream] = route
        return route

    def _payload(self, kind: str, raw: bytes | msgspec.Raw, ts_recv: int) -> list[Event]:
        if kind not in self._payloads:
            raise KeyError(f"unsupported stream or event type {kind!r}")
        decoder, build = self._payloads[kind]
        try:
            return build(decoder.decode(raw), ts_recv)
        except InvalidOperation:  # a bad decimal text: the strict decoder names it
            return build(decoder.strict(raw), ts_recv)

    def _control(self, env: _Envelope, data: bytes) -> list[Event | Control]:
        if env.code is not None or env.error:
            err = (
                msgspec.json.decode(env.error, type=_ErrorBody)
                if env.error
                else _ErrorBody(env.code or 0, env.msg or "")
            )
            return [VenueError(err.code, err.msg, permanent=False)]
        if env.id is not None:
            return [Subscribed(f"request {env.id} acknowledged")]
        raise self.malformed("neither a stream payload, an ack nor an error", data)

    # Builders return the message's events as a list (the caller's answer, no wrapping), and
    # pass every field positionally: keyword arguments cost a Struct call noticeably more.

    def _trade(self, m: _Trade, ts_recv: int) -> list[Event]:
        return [Trade(NAME, self._symbols.get(m.s) or self.symbol(m.s), m.T * MS, ts_recv,
                      self._dec[m.p], m.q, _AGGRESSOR[m.m], m.t)]  # fmt: skip

    def _agg_trade(self, m: _AggTrade, ts_recv: int) -> list[Event]:
        return [Trade(NAME, self._symbols.get(m.s) or self.symbol(m.s), m.T * MS, ts_recv,
                      self._dec[m.p], m.q, _AGGRESSOR[m.m], m.a, None, (), None, True)]  # fmt: skip

    def _depth(self, m: _Depth, ts_recv: int) -> list[Event]:
        dec = self._dec
        return [BookDelta(NAME, self._symbols.get(m.s) or self.symbol(m.s), m.E * MS, ts_recv,
                          tuple([(dec[p], q) for p, q in m.b]),
                          tuple([(dec[p], q) for p, q in m.a]), m.U, m.u)]  # fmt: skip

    def _book_ticker(self, m: _BookTicker, ts_recv: int) -> list[Event]:
        # Spot bookTicker carries no time; the receive time stands in for it.
        ts_event = (m.T or m.E) * MS if (m.T or m.E) else ts_recv
        dec = self._dec
        return [Quote(NAME, self._symbols.get(m.s) or self.symbol(m.s), ts_event, ts_recv,
                      dec[m.b], m.B, dec[m.a], m.A, update_id=m.u)]  # fmt: skip

    def _kline(self, m: _KlineEvent, ts_recv: int) -> list[Event]:
        """Only a closed kline is a bar; the updates before it are provisional and not stored."""
        k = m.k
        if not k.x:
            return []
        if k.i not in KLINE_SECONDS:
            raise KeyError(f"unsupported kline interval {k.i!r}")
        vwap = ratio(k.q, k.v) if k.q is not None and k.v else None
        return [Bar(NAME, self._symbols.get(m.s) or self.symbol(m.s), k.t * MS, ts_recv, k.o,
                    k.h, k.l, k.c, k.v, KLINE_SECONDS[k.i], k.n, vwap)]  # fmt: skip

    def symbol(self, wire: str) -> str:
        """'BTCUSDT' -> 'BTC-USDT' (by the longest known quote asset suffix)."""
        known = self._symbols.get(wire)
        if known is not None:
            return known
        upper = wire.upper()
        quote = next((q for q in QUOTE_ASSETS if upper.endswith(q) and upper != q), None)
        normal = f"{upper[: -len(quote)]}-{quote}" if quote else upper
        if len(self._symbols) < 10_000:
            self._symbols[wire] = normal
        return normal

    # -- session ---------------------------------------------------------------------------

    def ws_path(self, config: SessionConfig) -> str:
        channels = config.channels or self.default_channels
        streams = [f"{wire_symbol(s).lower()}@{c}" for s in config.symbols for c in channels]
        return "/stream?streams=" + "/".join(streams)

    def book_rules(self, config: SessionConfig) -> SequenceRules:
        return SequenceRules()

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


_STREAM_PREFIX = b'{"stream":"'


def _frame_of(payload: type) -> type:
    """A combined-stream frame type whose `data` is `payload`, so one decode pass does both."""
    return msgspec.defstruct(f"{payload.__name__}Frame", [("data", payload)], gc=False)


def wire_symbol(symbol: str) -> str:
    """'BTC-USDT' -> 'BTCUSDT'."""
    return symbol.replace("-", "").upper()


def _stream_kind(stream: str) -> str:
    """'btcusdt@depth@100ms' -> 'depthUpdate'; 'btcusdt@trade' -> 'trade'."""
    channel = stream.split("@", 2)[1] if "@" in stream else stream
    if channel.startswith("depth"):
        return "depthUpdate"
    return "kline" if channel.startswith("kline") else channel
