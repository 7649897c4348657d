"""Kraken builders: decoded v2 and v1 messages (kraken.wire) -> events and control items, with
the pair spelling, the time parsing and the v1 array checks they need."""

from __future__ import annotations

from collections.abc import Callable

from mdc.events import BookDelta, BookSnapshot, Event, Level, Quote, Trade
from mdc.timefmt import BadTimestamp, parse_decimal_seconds_ns, parse_rfc3339_ns
from mdc.venues.base import (
    Connected,
    Control,
    Heartbeat,
    Subscribed,
    VenueError,
)  # fmt: skip
from mdc.venues.decimals import TEXT_ERRORS, DecimalTexts, TextDecoder
from mdc.venues.kraken.wire import (
    Envelope,
    MethodResult,
    V1Book,
    V1Level,
    V1Spread,
    V1Ticker,
    V1Trade,
)

NAME = "kraken"
# Kraken's legacy asset codes (v1 pairs and REST) against the common ones (v2, ours).
LEGACY_ASSETS = {"XBT": "BTC", "XDG": "DOGE"}
# Kraken's `side` is the taker's (the order that triggered the trade), i.e. the aggressor.
V1_SIDES = {"b": "buy", "s": "sell"}
V1_ORDER_TYPES = {"m": "market", "l": "limit"}
_FRACTION_SCALE = [10 ** (9 - digits) for digits in range(10)]


class _Invalid(Exception):
    """A decoded message breaks a rule the schema cannot express; `decode` makes it malformed."""


class KrakenBuilders:
    """The message builders and `symbol`, mixed into `Kraken`, which sets up the caches they
    read and replace (`_symbols`, `_v1_depths`, `_second`, `_dec`); `malformed` is `Venue`'s."""

    _symbols: dict[str, str]
    _v1_depths: dict[str, int]
    _second: tuple[str, int]
    _dec: DecimalTexts

    def _time(self, text: str | None, default: int) -> int:
        """RFC 3339 'Z' time -> ns; consecutive messages share the second, so it is parsed once."""
        if text is None:
            return default
        frac = text[20:-1]
        if text[19:20] != "." or text[-1:] != "Z" or not (frac.isascii() and frac.isdigit()):
            return parse_rfc3339_ns(text)  # other forms, and the error for bad ones
        if len(frac) > 9:
            raise BadTimestamp(f"more than 9 fraction digits: {text!r}")
        second = self._second
        if text[:19] != second[0]:
            second = self._second = (text[:19], parse_rfc3339_ns(text[:19] + "Z"))
        return second[1] + int(frac) * _FRACTION_SCALE[len(frac)]

    # -- v2 ----------------------------------------------------------------------------------

    def _v2_book(self, m, ts_recv: int) -> list[Event]:
        kind = BookSnapshot if m.type == "snapshot" else BookDelta
        dec = self._dec
        return [
            kind(NAME, self._symbols.get(d.symbol) or self.symbol(d.symbol),
                 self._time(d.timestamp, ts_recv), ts_recv,
                 tuple([(dec[bytes(lv.price)], lv.qty) for lv in d.bids]),
                 tuple([(dec[bytes(lv.price)], lv.qty) for lv in d.asks]), checksum=d.checksum)
            for d in m.data
        ]  # fmt: skip

    def _v2_trade(self, m, ts_recv: int) -> list[Event]:
        return [
            Trade(NAME, self._symbols.get(d.symbol) or self.symbol(d.symbol),
                  self._time(d.timestamp, ts_recv), ts_recv, self._dec[bytes(d.price)], d.qty,
                  d.side, d.trade_id, None, (d.ord_type,))
            for d in m.data
        ]  # fmt: skip

    def _v2_ticker(self, m, ts_recv: int) -> list[Event]:
        return [
            Quote(NAME, self.symbol(d.symbol), self._time(d.timestamp, ts_recv), ts_recv, d.bid,
                  d.bid_qty, d.ask, d.ask_qty)
            for d in m.data
        ]  # fmt: skip

    def _v2_status(self, m, ts_recv: int) -> list[Control]:
        return [_system_status(d.system) for d in m.data]

    def _method(self, env: Envelope, data: bytes) -> list[Event | Control]:
        if env.method == "pong":
            return [Heartbeat()]
        if env.method not in ("subscribe", "unsubscribe") or env.success is None:
            raise self.malformed(f"unexpected method response {env.method!r}", data)
        if not env.success:
            # A rejected subscription (unknown pair, bad depth) will not succeed on retry; a
            # duplicate one (a resubscribe racing the reconnect's subscribe) is harmless.
            message = env.error or "subscription rejected"
            permanent = env.method == "subscribe" and "already subscribed" not in message.lower()
            return [VenueError(None, message, permanent=permanent)]
        if env.method == "unsubscribe":
            return []
        result = env.result or MethodResult()
        return [Subscribed(f"{result.channel} {result.symbol}")]

    # -- v1 ----------------------------------------------------------------------------------

    def _v1_event(self, env: Envelope, data: bytes) -> list[Event | Control]:
        match env.event:
            case "heartbeat" | "pong":
                return [Heartbeat()]
            case "systemStatus" if env.status is not None:
                return [_system_status(env.status)]
            case "subscriptionStatus" if env.status == "subscribed":
                return [Subscribed(f"{env.channelName} {env.pair}")]
            case "subscriptionStatus" if env.status == "unsubscribed":
                return []
            case "subscriptionStatus" if env.status == "error":
                return [VenueError(None, env.errorMessage or "subscription error", permanent=True)]
            case "error":
                return [VenueError(None, env.errorMessage or "error", permanent=False)]
        raise self.malformed(f"unexpected event {env.event!r} (status {env.status!r})", data)

    def _v1_payloads(
        self, items: list, kind: str, build: Callable, param: str, ts_recv: int
    ) -> list:
        if len(items) < 4 or type(items[0]) is not int or not isinstance(items[-1], str):
            raise _Invalid("v1 message is not [channelID, payload..., name, pair]")
        payloads = items[1:-2]
        if not payloads or any(isinstance(p, int | str) for p in payloads):
            raise _Invalid(f"v1 {kind} message without a payload")
        return build(payloads, self.symbol(items[-1]), param, ts_recv)

    def _v1_book(self, payloads: list[V1Book], symbol: str, param: str, ts_recv: int) -> list:
        depths = self._v1_depths
        if param.isdigit() and depths.get(symbol) != int(param) and len(depths) < 10_000:
            self._v1_depths = {**depths, symbol: int(param)}  # replaced: see `kept`
        first = payloads[0]
        if first.as_ is not None or first.bs is not None:
            if first.as_ is None or first.bs is None:
                raise _Invalid("v1 book snapshot needs both 'as' and 'bs'")
            ts = _v1_time(ts_recv, first.as_, first.bs)
            return [BookSnapshot(NAME, symbol, ts, ts_recv, self._levels(first.bs),
                                 self._levels(first.as_))]  # fmt: skip
        asks = [lv for p in payloads for lv in p.a]
        bids = [lv for p in payloads for lv in p.b]
        if not asks and not bids:
            raise _Invalid("v1 book update without 'a' or 'b' levels")
        c = payloads[-1].c
        if c is None or not c.isdigit():
            raise _Invalid(f"v1 book update checksum {c!r} is not an unsigned int")
        return [BookDelta(NAME, symbol, _v1_time(ts_recv, asks, bids), ts_recv, self._levels(bids),
                          self._levels(asks), checksum=int(c))]  # fmt: skip

    def _levels(self, rows: list[V1Level]) -> tuple[Level, ...]:
        dec = self._dec
        return tuple([(dec[row.price], row.qty) for row in rows])

    def _v1_trade(self, payloads: list[list[V1Trade]], symbol: str, _: str, ts_recv: int) -> list:
        dec = self._dec
        return [
            Trade(NAME, symbol, parse_decimal_seconds_ns(t.time), ts_recv, dec[t.price], t.volume,
                  V1_SIDES[t.side], None, conditions=(V1_ORDER_TYPES[t.order_type],))
            for rows in payloads
            for t in rows
        ]  # fmt: skip

    def _v1_spread(self, payloads: list[V1Spread], symbol: str, _: str, ts_recv: int) -> list:
        return [
            Quote(NAME, symbol, parse_decimal_seconds_ns(s.timestamp), ts_recv, s.bid,
                  s.bid_volume, s.ask, s.ask_volume)
            for s in payloads
        ]  # fmt: skip

    def _v1_ticker(self, payloads: list[V1Ticker], symbol: str, _: str, ts_recv: int) -> list:
        # The v1 ticker carries no time of its own: the receive time stands in for it.
        return [Quote(NAME, symbol, ts_recv, ts_recv, t.b[0], t.b[2], t.a[0], t.a[2])
                for t in payloads]  # fmt: skip

    def symbol(self, wire: str) -> str:
        """'BTC/USD' (v2), 'XBT/USD' (v1) -> 'BTC-USD'."""
        known = self._symbols.get(wire)
        if known is not None:
            return known
        base, slash, quote = wire.upper().partition("/")
        if not slash or not base or not quote:
            raise _Invalid(f"pair {wire!r} is not BASE/QUOTE")
        normal = f"{LEGACY_ASSETS.get(base, base)}-{LEGACY_ASSETS.get(quote, quote)}"
        if len(self._symbols) < 10_000:
            self._symbols[wire] = normal
        return normal


def _built(decoder: TextDecoder, build: Callable, data: bytes, *args: object) -> list:
    """`build(message, *args)`; a price text Decimal rejects gets the strict decoder's error
    (the one the venue always gave), or its own if the strict decoder takes the message."""
    message = decoder.decode(data)
    try:
        return build(message, *args)
    except TEXT_ERRORS:
        decoder.strict(data)
        raise


def _system_status(system: str) -> Control:
    if system == "online":
        return Connected()
    return VenueError(None, f"system status {system}", permanent=False)


def _v1_time(ts_recv: int, *sides: list[V1Level]) -> int:
    """Latest level time of a v1 book message (its only clock); without levels, the receive time.

    Compared as text: Unix seconds have 10 integer digits until 2286, so text order is time order.
    """
    latest = max((lv.timestamp for side in sides for lv in side), default="")
    return parse_decimal_seconds_ns(latest) if latest else ts_recv


def _v1_channel(data: bytes) -> str:
    """`[..., "book-10", "XBT/USD"]` -> 'book-10': the second-to-last string of the array."""
    q4 = data.rfind(b'"')
    q3 = data.rfind(b'"', 0, q4)
    q2 = data.rfind(b'"', 0, q3)
    q1 = data.rfind(b'"', 0, q2)
    return data[q1 + 1 : q2].decode(errors="replace") if q1 >= 0 else ""
