"""Alpaca builders: decoded stream items and REST rows (alpaca.wire) -> events and control
items, with the RFC 3339 time parser they share."""

from __future__ import annotations

from decimal import Decimal

from mdc.events import Bar, Quote, Trade
from mdc.timefmt import parse_rfc3339_ns
from mdc.venues.alpaca.wire import (
    CHANNELS,
    _Bar,
    _CancelError,
    _Correction,
    _Error,
    _Msg,
    _Quote,
    _RestTrade,
    _Subscription,
    _Success,
    _Trade,
)
from mdc.venues.base import (
    Authenticated,
    Connected,
    Control,
    Dropped,
    Subscribed,
    VenueError,
)

NAME = "alpaca"
# 402 auth failed, 405 symbol limit, 408 v2 not enabled, 409 insufficient subscription: retrying
# the same connection cannot succeed. 406 (connection limit) clears once the other connection
# goes, so it is retryable, with backoff.
PERMANENT_CODES = frozenset({402, 405, 408, 409})
BAR_SECONDS = {"b": 60, "u": 60, "d": 86_400}
_FRACTION_SCALE = [10 ** (9 - digits) for digits in range(10)]


class AlpacaBuilders:
    """The builders that read the per-connection time cache (`_seconds`, set up by `Alpaca`,
    into which this is mixed), and `ns`, the parser behind it."""

    _seconds: dict[str, int]

    def _trade(self, m: _Trade, ts_recv: int) -> Trade:
        # Alpaca does not report the aggressor (SIP trades carry no side), so the side is unknown.
        return Trade(NAME, m.S, self.ns(m.t), ts_recv, m.p, m.s, "unknown", m.i, exchange=m.x,
                     conditions=m.c, tape=m.z)  # fmt: skip

    def _quote(self, m: _Quote, ts_recv: int) -> Quote:
        bid, bid_size = _side(m.bp, m.bs)
        ask, ask_size = _side(m.ap, m.as_)
        return Quote(NAME, m.S, self.ns(m.t), ts_recv, bid, bid_size, ask, ask_size,
                     bid_exchange=m.bx or None, ask_exchange=m.ax or None, conditions=m.c,
                     tape=m.z)  # fmt: skip

    def _bar(self, m: _Bar, ts_recv: int) -> Bar:
        interval = BAR_SECONDS[m.__struct_config__.tag]
        return Bar(NAME, m.S, self.ns(m.t), ts_recv, m.o, m.h, m.l, m.c, m.v, interval,
                   trade_count=m.n, vwap=m.vw)  # fmt: skip

    def _rest_trade(self, symbol: str, r: _RestTrade, ts_recv: int) -> Trade:
        return Trade(NAME, symbol, self.ns(r.t), ts_recv, r.p, r.s, "unknown", r.i, exchange=r.x,
                     conditions=r.c, tape=r.z)  # fmt: skip

    def ns(self, text: str) -> int:
        """RFC 3339 -> int ns, exactly. The part up to the second is cached (one entry per second
        of data); only the fraction is parsed per message. Other shapes take the general parser."""
        head = text[:20]
        base = self._seconds.get(head)
        if base is None:
            if len(text) < 20 or text[19] not in ".Z":
                return parse_rfc3339_ns(text)  # raises, or handles a zone offset
            base = self._second(head)
        if text[19] == "Z":
            return base if len(text) == 20 else parse_rfc3339_ns(text)
        frac = text[20:-1]
        if text[-1] != "Z" or not frac.isdigit() or len(frac) > 9:
            return parse_rfc3339_ns(text)
        return base + int(frac) * _FRACTION_SCALE[len(frac)]

    def _second(self, head: str) -> int:
        seconds = parse_rfc3339_ns(head[:19])
        if len(self._seconds) >= 4096:
            self._seconds.clear()
        self._seconds[head] = seconds
        return seconds


def _side(price: Decimal, size: Decimal) -> tuple[Decimal | None, Decimal | None]:
    """Alpaca reports an empty side as price 0 and size 0."""
    if not price and not size:
        return None, None
    return price, size


def _success(m: _Success, ts_recv: int) -> Control:
    if m.msg == "connected":
        return Connected()
    if m.msg == "authenticated":
        return Authenticated()
    raise ValueError(f"unknown success message {m.msg!r}")


def _subscribed(m: _Subscription, ts_recv: int) -> Subscribed:
    lists = ((c, getattr(m, c)) for c in CHANNELS)
    return Subscribed("; ".join(f"{c}={','.join(symbols)}" for c, symbols in lists if symbols))


def _venue_error(m: _Error, ts_recv: int) -> VenueError:
    return VenueError(m.code, m.msg, permanent=m.code in PERMANENT_CODES)


def _ignored(m: _Msg, ts_recv: int) -> None:
    """Documented types that are no market data we keep (halts, LULD bands): validated only."""


def _trade_change(m: _Correction | _CancelError, ts_recv: int) -> Dropped:
    """A correction or cancel of a stored trade, which no event type carries yet: validated,
    then reported dropped, since the stored trade stays as it was."""
    trade = m.oi if isinstance(m, _Correction) else m.i
    kind = "correction" if isinstance(m, _Correction) else "cancel or error"
    return Dropped(f"{m.S} trade {trade} ({m.x}): {kind} not applied (no event type for it yet)")
