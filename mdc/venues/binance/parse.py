"""Binance builders: decoded websocket payloads (binance.wire) -> events, and symbol spelling.

The builders are methods (mixed into the `Binance` venue class) because they read its
per-connection caches: `_symbols` (wire symbol -> ours) and `_dec` (price texts -> Decimal).
"""

from __future__ import annotations

from mdc.events import Bar, BookDelta, Event, Quote, Trade
from mdc.venues.binance.wire import _AggTrade, _BookTicker, _Depth, _KlineEvent, _Trade
from mdc.venues.decimals import DecimalTexts
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

_AGGRESSOR = ("buy", "sell")
"""Indexed by `m` (the buyer was the maker): then the aggressor sold."""


class BinanceBuilders:
    """The websocket payload builders and `symbol`, mixed into `Binance` (which sets up the
    `_symbols` and `_dec` caches they read)."""

    _symbols: dict[str, str]
    _dec: DecimalTexts

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


def wire_symbol(symbol: str) -> str:
    """'BTC-USDT' -> 'BTCUSDT'."""
    return symbol.replace("-", "").upper()


def _stream_kind(stream: str) -> str:
    """'btcusdt@depth@100ms' -> 'depthUpdate'; 'btcusdt@trade' -> 'trade'."""
    channel = stream.split("@", 2)[1] if "@" in stream else stream
    if channel.startswith("depth"):
        return "depthUpdate"
    return "kline" if channel.startswith("kline") else channel
