"""Coinbase builders: decoded Exchange and Advanced Trade messages (coinbase.wire) -> events,
with the RFC 3339 time parser and the small pure helpers they share with coinbase.rest."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal

from mdc.events import BookDelta, BookSnapshot, Event, Level, Quote, Side, Trade
from mdc.timefmt import BadTimestamp, parse_rfc3339_ns
from mdc.venues.base import Control, Heartbeat, Subscribed, VenueError
from mdc.venues.coinbase.wire import (
    AtBook,
    AtLevel,
    AtSubscriptions,
    AtTickers,
    AtTrades,
    Error,
    ExHeartbeat,
    ExSubscriptions,
    L2Update,
    Match,
    Snapshot,
    Ticker,
)
from mdc.venues.decimals import DecimalTexts

NAME = "coinbase"
Items = list[Event | Control]

_OPPOSITE: dict[str, Side] = {"buy": "sell", "sell": "buy"}
_TAKER: dict[str, Side] = {"BUY": "buy", "SELL": "sell"}
_FRACTION_SCALE = [10 ** (9 - digits) for digits in range(10)]


class _Malformed(ValueError):
    """A field that decoded but does not hold what the venue documents (raised inside builders)."""


class _Timestamps:
    """RFC 3339 'YYYY-MM-DDTHH:MM:SS[.f]Z' -> ns, with the whole seconds cached per second: the
    full parse costs more than decoding the rest of a small message. Use the bound `parse` (a
    bound method is a cheaper call than an instance's `__call__`)."""

    def __init__(self, size: int = 4096) -> None:
        self._seconds: dict[str, int] = {}
        """'YYYY-MM-DDTHH:MM:SS.' (the dot included, so a hit means a fraction follows) -> ns"""
        self._size = size

    def parse(self, text: str) -> int:
        whole = self._seconds.get(text[:20])
        if whole is not None and text[-1] == "Z":
            frac = text[20:-1]
            if frac.isdigit() and len(frac) <= 9:
                return whole + int(frac) * _FRACTION_SCALE[len(frac)]
        return self._parse(text)

    def _parse(self, text: str) -> int:
        """The first time of a second, and every other shape (or the error for bad ones)."""
        frac = text[20:-1]
        if text[19:20] == "." and text[-1:] == "Z" and 0 < len(frac) <= 9 and frac.isdigit():
            return self._whole(text[:20]) + int(frac) * _FRACTION_SCALE[len(frac)]
        try:
            return parse_rfc3339_ns(text)
        except BadTimestamp as exc:
            raise _Malformed(str(exc)) from exc

    def _whole(self, head: str) -> int:
        try:
            known = parse_rfc3339_ns(head[:19] + "Z")
        except BadTimestamp as exc:
            raise _Malformed(str(exc)) from exc
        if len(self._seconds) >= self._size:
            self._seconds.clear()
        self._seconds[head] = known
        return known


def _digits(text: str | int, what: str) -> int:
    """AT (and recent Exchange REST) send trade ids as digit strings."""
    if isinstance(text, int):
        return text
    if not (text.isascii() and text.isdigit()):
        raise _Malformed(f"{what} is not a decimal integer: {text!r}")
    return int(text)


def _by_id(trade: Trade) -> int:
    return trade.trade_id or 0


def _split(
    levels: Iterable[tuple[str, str, Decimal]], dec: DecimalTexts
) -> tuple[tuple[Level, ...], ...]:
    """Exchange (side, price, size) rows -> (bids, asks)."""
    bids: list[Level] = []
    asks: list[Level] = []
    for side, price, size in levels:
        (bids if side == "buy" else asks).append((dec[price], size))
    return tuple(bids), tuple(asks)


def _split_at(levels: Iterable[AtLevel], dec: DecimalTexts) -> tuple[tuple[Level, ...], ...]:
    """Advanced Trade levels -> (bids, asks)."""
    bids: list[Level] = []
    asks: list[Level] = []
    for level in levels:
        (bids if level.side == "bid" else asks).append((dec[level.price_level], level.new_quantity))
    return tuple(bids), tuple(asks)


class CoinbaseBuilders:
    """The message builders, mixed into `Coinbase`, which sets up the caches they read (`_dec`
    price texts, `_ns` the bound `_Timestamps.parse`) and provides the book state they consult
    (`_synced`, `_unless_stale`). AT builders run behind `Coinbase._at` (the connection
    sequence): they get the list and append their items to it."""

    _dec: DecimalTexts
    _ns: Callable[[str], int]
    _synced: Callable[[str], None]
    _unless_stale: Callable[[BookDelta], Items]

    def _match(self, m: Match, ts_recv: int) -> Items:
        """Whatever its `sequence` (a late or repeated one too): the trade id tells repeats."""
        price = self._dec[m.price]
        # `side` is the maker order's side; the aggressor took the other side.
        side = _OPPOSITE[m.side]
        return [
            Trade(NAME, m.product_id, self._ns(m.time), ts_recv, price, m.size, side, m.trade_id)
        ]

    def _ticker(self, m: Ticker, ts_recv: int) -> Items:
        """Top of book only: the match with the same sequence carries the trade. A late one is
        still what the venue said at its time (its sequence is its update id)."""
        ts_event = self._ns(m.time) if m.time else ts_recv
        return [Quote(NAME, m.product_id, ts_event, ts_recv, m.best_bid, m.best_bid_size,
                      m.best_ask, m.best_ask_size, update_id=m.sequence)]  # fmt: skip

    def _snapshot(self, m: Snapshot, ts_recv: int) -> Items:
        dec = self._dec
        bids = tuple([(dec[price], size) for price, size in m.bids])
        asks = tuple([(dec[price], size) for price, size in m.asks])
        self._synced(m.product_id)
        ts_event = self._ns(m.time) if m.time else ts_recv
        return [BookSnapshot(NAME, m.product_id, ts_event, ts_recv, bids, asks)]

    def _l2update(self, m: L2Update, ts_recv: int) -> Items:
        bids, asks = _split(m.changes, self._dec)
        return self._unless_stale(
            BookDelta(NAME, m.product_id, self._ns(m.time), ts_recv, bids, asks)
        )

    def _heartbeat(self, m: ExHeartbeat, ts_recv: int) -> Items:
        """A late one names an older last trade id, which asks for nothing."""
        return [Heartbeat(m.product_id, m.last_trade_id)]

    def _subscriptions(self, m: ExSubscriptions, ts_recv: int) -> Items:
        names = ",".join(f"{c.name}:{'|'.join(c.product_ids or ())}" for c in m.channels)
        return [Subscribed(names)]

    def _error(self, m: Error, ts_recv: int) -> Items:
        text = f"{m.message}: {m.reason}" if m.reason else m.message
        # Authentication failures repeat on every retry; other errors (a bad product) are per
        # subscription and the connection stays usable.
        return [VenueError(None, text, permanent="auth" in text.lower())]

    def _at_book(self, m: AtBook, ts_recv: int, out: Items) -> None:  # type: ignore[valid-type]
        dec = self._dec
        # Every price first: a bad one must leave no trace of the message (see `_at`).
        books = [(event, *_split_at(event.updates, dec)) for event in m.events]
        for event, bids, asks in books:
            product = event.product_id
            if event.type == "snapshot":
                self._synced(product)
                out.append(BookSnapshot(NAME, product, self._ns(m.timestamp), ts_recv, bids, asks))
            else:
                last = event.updates[-1].event_time if event.updates else None
                ts_event = self._ns(last or m.timestamp)
                out += self._unless_stale(BookDelta(NAME, product, ts_event, ts_recv, bids, asks))

    def _at_trades(self, m: AtTrades, ts_recv: int, out: Items) -> None:  # type: ignore[valid-type]
        dec, ns = self._dec, self._ns
        for event in m.events:
            # `side` read as the taker's (aggressor's) side: the spec leaves it unverified and the
            # simulator emits the taker side. Sorted by id: snapshots list the newest first.
            trades = [
                Trade(NAME, t.product_id, ns(t.time), ts_recv, dec[t.price], t.size,
                      _TAKER[t.side], _digits(t.trade_id, "trade_id"))
                for t in event.trades
            ]  # fmt: skip
            if len(trades) > 1:
                trades.sort(key=_by_id)
            out.extend(trades)

    def _at_tickers(self, m: AtTickers, ts_recv: int, out: Items) -> None:  # type: ignore[valid-type]
        ts_event = self._ns(m.timestamp)
        out.extend(
            Quote(NAME, t.product_id, ts_event, ts_recv, t.best_bid, t.best_bid_quantity,
                  t.best_ask, t.best_ask_quantity)
            for event in m.events for t in event.tickers
        )  # fmt: skip

    def _at_subscriptions(self, m: AtSubscriptions, ts_recv: int, out: Items) -> None:  # type: ignore[valid-type]
        out.extend(
            Subscribed(",".join(f"{name}:{'|'.join(ids)}" for name, ids in e.subscriptions.items()))
            for e in m.events
        )
