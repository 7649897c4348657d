"""What every venue encoder shares: the sans-I/O session/venue contracts and text helpers.

A venue turns model events into `Publication`s (one venue message before per-connection
framing). A `Session` is one websocket connection's protocol state: it answers client messages
and decides which publications the connection sees, returning frames as text. The I/O shell
only moves those frames; faults apply to `data` frames, never to `control` replies.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar, Protocol

import msgspec

from mdc.errors import CollectorError
from mdc.events import Trade
from mdc.simulator.config import SimulatorConfig
from mdc.simulator.model import (
    BookUpdate,
    MarketModel,
    ModelEvent,
    ModelTrade,
    SymbolSpec,
    TradeHistory,
)
from mdc.timefmt import format_rfc3339_ns

_encoder = msgspec.json.Encoder()


class NoQuotes(CollectorError):
    """A crossed quotes fault asked of a venue that publishes no quotes."""


class HandshakeRejected(CollectorError):
    """A websocket upgrade the venue refuses (unknown path or feed); carries the HTTP reply."""

    def __init__(self, reply: HttpReply) -> None:
        super().__init__(f"handshake rejected with HTTP {reply.status}")
        self.reply = reply


@dataclass(frozen=True, slots=True)
class Publication:
    """One venue message for everyone subscribed to `topic`; `body` is venue-specific."""

    topic: tuple[Any, ...]
    body: Any


@dataclass(slots=True)
class SessionOutput:
    control: list[str] = field(default_factory=list)
    data: list[str] = field(default_factory=list)
    close: bool = False


@dataclass(frozen=True, slots=True)
class HttpReply:
    status: int
    body: str
    headers: Mapping[str, str] = field(default_factory=dict)


class Session(Protocol):
    def on_open(self, now_ns: int) -> SessionOutput: ...

    def on_message(self, text: str, now_ns: int) -> SessionOutput: ...

    def on_publications(self, pubs: list[Publication], now_ns: int) -> SessionOutput: ...

    def on_tick(self, now_ns: int) -> SessionOutput: ...

    def on_slow_client(self) -> list[str]: ...

    def on_close(self) -> None: ...


class Venue:
    """Base of every simulated venue (registered by class in the `mdc.simulator_venues`
    entry-point group, under its `name`): owns the model, the REST trade history and the book
    mirror. The class attributes are what the server and the config need to know of a venue
    without knowing its name."""

    name: ClassVar[str] = ""
    ts_unit_ns = 1
    """Resolution of the venue's timestamps on the wire; truth ts_event is truncated to it."""
    default_ws_path: ClassVar[str] = "/"
    """The websocket path of the venue's usual endpoint (`VenueUrls.ws`)."""
    instruments: ClassVar[Mapping[str, SymbolSpec]] = {}
    """Served when no symbols are configured; known symbols keep their spec when configured."""
    generic_lot: ClassVar[Decimal] = Decimal("0.0001")
    generic_max_lots: ClassVar[int] = 10000
    """Size lot and lots per order of a symbol not in `instruments` (crypto-like by default)."""
    collector_channels: ClassVar[tuple[str, ...]] = ()
    """The channels a collector subscribes to on this simulator when its config names none,
    where the simulator lacks some of the venue's defaults (Kraken's ticker); empty: the
    venue's own defaults."""

    @classmethod
    def spec(cls, symbol: str) -> SymbolSpec:
        """The known instrument, or a generic one so any symbol can be simulated."""
        known = cls.instruments.get(symbol)
        if known is not None:
            return known
        return SymbolSpec(
            symbol, Decimal("100.00"), Decimal("0.01"), cls.generic_lot, cls.generic_max_lots
        )

    def __init__(self, model: MarketModel, config: SimulatorConfig) -> None:
        self.model = model
        self.config = config
        self.history = TradeHistory(model.symbols, config.rest_history)
        self.mirror = {s: m.book.copy() for s, m in model.symbols.items()}

    def publish(self, events: list[ModelEvent]) -> list[Publication]:
        """Record the events in the venue's history and render its wire messages."""
        self.history.record(events)
        pubs: list[Publication] = []
        for ev in events:
            if isinstance(ev, BookUpdate):
                self.mirror[ev.symbol].apply(ev.changes)
            pubs.extend(self.render(ev))
        return pubs

    def render(self, event: ModelEvent) -> list[Publication]:
        raise NotImplementedError

    def cross_quotes(self, symbols: list[str], until_ns: int) -> None:
        """A crossed quotes fault: quotes until `until_ns` show a bid above the ask."""
        raise NoQuotes(f"{self.name} publishes no quotes; crossed quotes need one that does")

    def open_session(
        self, path: str, query: Mapping[str, str], headers: Mapping[str, str]
    ) -> Session:
        raise NotImplementedError

    def rest(self, path: str, query: Mapping[str, str], headers: Mapping[str, str]) -> HttpReply:
        raise NotImplementedError

    def wire_ts_ns(self, ts_ns: int) -> int:
        return ts_ns - ts_ns % self.ts_unit_ns

    def truth_trade(self, trade: ModelTrade) -> Trade:
        """The trade as mdc should record it from this venue's wire message."""
        return Trade(
            venue=self.name,
            symbol=trade.symbol,
            ts_event=self.wire_ts_ns(trade.ts_ns),
            ts_recv=0,
            price=trade.price,
            size=trade.size,
            side=trade.aggressor,
            trade_id=trade.trade_id,
        )


def dumps(obj: Any) -> str:
    """Compact JSON; `msgspec.Raw` values go out verbatim (numbers written from Decimal text)."""
    return _encoder.encode(obj).decode()


def parse_json(text: str) -> Any:
    """Client messages; None when the text is not JSON."""
    try:
        return json.loads(text)
    except ValueError:
        return None


def fixed(value: Decimal, dp: int) -> str:
    """Fixed-point text with exactly `dp` decimals, never an exponent."""
    return format(value.quantize(Decimal(1).scaleb(-dp)), "f")


def plain(value: Decimal) -> str:
    """Shortest fixed-point text (no trailing zeros, never an exponent)."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def raw_number(text: str) -> msgspec.Raw:
    return msgspec.Raw(text.encode())


def rfc3339(ts_ns: int, digits: int) -> str:
    """RFC 3339 UTC with `digits` fraction digits (3, 6 or 9; 0 drops the fraction)."""
    full = format_rfc3339_ns(ts_ns)
    if digits == 0:
        return full[:19] + "Z"
    return full[: 20 + digits] + "Z"


def int_param(query: Mapping[str, str], name: str, default: int | None) -> int | None:
    """An integer query parameter; raises ValueError when present but not an integer."""
    text = query.get(name)
    if text is None or text == "":
        return default
    return int(text)
