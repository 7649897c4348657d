"""The stream fields an alert condition may read, and the per-instrument state they come from.

Each field belongs to one stream (trades, quotes, status); a rule is evaluated when an event of a
stream it reads arrives, and, when it reads the clock (`time_since_*`) or has a `for` clause, at
every evaluation tick too. Times are receive times (`ts_recv`): the collector's own clock, which
live and replayed evaluation share.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from decimal import Decimal

from mdc.alerts.expr import FieldSpec, Kind, Value
from mdc.events import Quote, Status, Trade

MAX_PRICE_HISTORY = 100_000
"""Trades kept per instrument for `previous_price` over a window (bounded: past it, the oldest
kept trade stands in for the price one window ago)."""

CONNECTED = "connected"
PROVIDER_STATUS: dict[str, str] = {
    "connecting": "connecting",
    "connected": CONNECTED,
    "authenticated": CONNECTED,
    "subscribed": CONNECTED,
    "disconnected": "disconnected",
    "failed": "failed",
}
"""A provider's connection-level Status state -> `provider_status`; the others (a stream's
`in_sync`, a passing venue `error`) leave it as it was."""


class VenueState:
    __slots__ = ("provider_status",)

    def __init__(self) -> None:
        self.provider_status: str | None = None

    def apply(self, status: Status) -> None:
        self.provider_status = PROVIDER_STATUS.get(status.state, self.provider_status)


class InstrumentState:
    """The latest trade and quote of one instrument, and recent trade prices."""

    __slots__ = (
        "ask_price",
        "ask_size",
        "bid_price",
        "bid_size",
        "history",
        "last_quote_ns",
        "last_trade_ns",
        "price",
        "side",
        "size",
        "venue",
    )

    def __init__(self, venue: VenueState) -> None:
        self.venue = venue
        self.price: Decimal | None = None
        self.size: Decimal | None = None
        self.side: str | None = None
        self.last_trade_ns: int | None = None
        self.history: deque[tuple[int, Decimal]] = deque(maxlen=MAX_PRICE_HISTORY)
        self.bid_price = self.bid_size = self.ask_price = self.ask_size = None
        self.last_quote_ns: int | None = None

    def apply_trade(self, trade: Trade, keep_ns: int) -> None:
        """`keep_ns`: the longest window a rule looks back over (0: just the trade before)."""
        self.price, self.size, self.side = trade.price, trade.size, trade.side
        self.last_trade_ns = now = trade.ts_recv
        history = self.history
        history.append((now, trade.price))
        edge = now - keep_ns
        while len(history) > 2 and history[1][0] <= edge:
            history.popleft()

    def apply_quote(self, quote: Quote) -> None:
        self.bid_price, self.bid_size = quote.bid_price, quote.bid_size
        self.ask_price, self.ask_size = quote.ask_price, quote.ask_size
        self.last_quote_ns = quote.ts_recv

    def to_state(self) -> list:
        """Plain values (decimals as text) for a saved evaluator; `from_state` reads them."""
        return [
            *map(_text, (self.price, self.size)),
            self.side,
            self.last_trade_ns,
            [[ts, str(price)] for ts, price in self.history],
            *map(_text, (self.bid_price, self.bid_size, self.ask_price, self.ask_size)),
            self.last_quote_ns,
        ]

    def from_state(self, state: list) -> None:
        price, size, self.side, self.last_trade_ns, history, *quote, self.last_quote_ns = state
        self.price, self.size = _decimal(price), _decimal(size)
        self.history.extend((ts, Decimal(p)) for ts, p in history)
        self.bid_price, self.bid_size, self.ask_price, self.ask_size = map(_decimal, quote)

    def previous_price(self, now_ns: int, window_ns: int) -> Decimal | None:
        """The price one window ago: the last trade at or before now - window, else the oldest
        kept before the latest; with no window, the trade before the latest."""
        history = self.history
        if len(history) < 2:
            return None
        edge = now_ns - window_ns
        found = history[0][1]
        for index in range(1, len(history) - 1):
            ts, price = history[index]
            if ts > edge:
                break
            found = price
        return found


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


class Scope:
    """What a compiled condition reads: the instrument (None for a venue rule), its venue, the
    evaluation time and the rule's window. One per evaluator, refilled before each evaluation."""

    __slots__ = ("instrument", "now_ns", "venue", "window_ns")

    def __init__(self) -> None:
        self.instrument: InstrumentState | None = None
        self.venue: VenueState | None = None
        self.now_ns = 0
        self.window_ns = 0


def _since(then: int | None, now: int) -> int | None:
    return None if then is None else now - then


def _spread(i: InstrumentState) -> Value:
    if i.bid_price is None or i.ask_price is None:
        return None
    return i.ask_price - i.bid_price


def _mid(i: InstrumentState) -> Value:
    if i.bid_price is None or i.ask_price is None:
        return None
    return (i.ask_price + i.bid_price) / 2


@dataclass(frozen=True, slots=True)
class StreamField:
    name: str
    stream: str  # trades, quotes or status
    spec: FieldSpec
    doc: str
    clocked: bool = False


N, D, S = Kind.NUMBER, Kind.DURATION, Kind.STRING
_TABLE = (
    StreamField("price", "trades", FieldSpec(N, lambda s: s.instrument.price), "last trade price"),
    StreamField("size", "trades", FieldSpec(N, lambda s: s.instrument.size), "last trade size"),
    StreamField(
        "side", "trades", FieldSpec(S, lambda s: s.instrument.side), "'buy', 'sell' or 'unknown'"
    ),
    StreamField(
        "previous_price",
        "trades",
        FieldSpec(N, lambda s: s.instrument.previous_price(s.now_ns, s.window_ns)),
        "price one `window` ago (no window: the trade before)",
    ),
    StreamField(
        "time_since_last_trade",
        "trades",
        FieldSpec(D, lambda s: _since(s.instrument.last_trade_ns, s.now_ns)),
        "time since the instrument's last trade (unknown before its first)",
        clocked=True,
    ),
    StreamField("bid_price", "quotes", FieldSpec(N, lambda s: s.instrument.bid_price), "best bid"),
    StreamField("bid_size", "quotes", FieldSpec(N, lambda s: s.instrument.bid_size), "bid size"),
    StreamField("ask_price", "quotes", FieldSpec(N, lambda s: s.instrument.ask_price), "best ask"),
    StreamField("ask_size", "quotes", FieldSpec(N, lambda s: s.instrument.ask_size), "ask size"),
    StreamField(
        "spread", "quotes", FieldSpec(N, lambda s: _spread(s.instrument)), "ask_price - bid_price"
    ),
    StreamField(
        "mid", "quotes", FieldSpec(N, lambda s: _mid(s.instrument)), "(bid_price + ask_price) / 2"
    ),
    StreamField(
        "time_since_last_quote",
        "quotes",
        FieldSpec(D, lambda s: _since(s.instrument.last_quote_ns, s.now_ns)),
        "time since the instrument's last quote (unknown before its first)",
        clocked=True,
    ),
    StreamField(
        "provider_status",
        "status",
        FieldSpec(S, lambda s: s.venue.provider_status),
        "'connecting', 'connected', 'disconnected' or 'failed' (the venue's connection)",
    ),
)
FIELDS: dict[str, StreamField] = {f.name: f for f in _TABLE}
SPECS: dict[str, FieldSpec] = {f.name: f.spec for f in _TABLE}
