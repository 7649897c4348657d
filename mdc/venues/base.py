"""What every venue module provides, and the generic per-connection session built on it.

A venue module holds only what is specific to the venue: wire decoding, symbol spelling, the
subscribe/auth messages, REST request shapes and response decoding, and its book rules. The
`Session` here turns that into a sans-I/O state machine: bytes and HTTP bodies in, events out,
and an outbox of things for the I/O shell to do (send a frame, make an HTTP request, reconnect).
"""

from __future__ import annotations

import enum
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import msgspec

from mdc.errors import (
    CollectorError,
    ConfigError,
    IllegalTransition,
    MalformedMessage,
    VenueRejected,
)
from mdc.events import BookDelta, BookSnapshot, Event, Gap, Status, Trade
from mdc.sync import BookRules, BookSync, FetchTrades, NeedSnapshot, ResumePoint, TradeSync
from mdc.venues import storable
from mdc.venues.contract import Capabilities

# Control items: what a venue says about the connection rather than the market.


@dataclass(frozen=True, slots=True)
class Connected:
    """The venue greeted us (Alpaca `connected`, Kraken status `online`)."""


@dataclass(frozen=True, slots=True)
class Authenticated:
    pass


@dataclass(frozen=True, slots=True)
class Subscribed:
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Heartbeat:
    symbol: str | None = None
    last_trade_id: int | None = None


@dataclass(frozen=True, slots=True)
class VenueError:
    code: int | None
    message: str
    permanent: bool


class ConnectionSequence(msgspec.Struct, frozen=True, gc=False):
    """A per-connection message counter (Coinbase Advanced Trade `sequence_num`); a Struct, as it
    is built for every Advanced Trade message (a frozen dataclass costs several times more)."""

    value: int


@dataclass(frozen=True, slots=True)
class Dropped:
    """Part of a message that was read but is not passed on (a late book update, a repeated
    trade), and why; never silent: the shells report it (a stderr line offline, a count live)."""

    reason: str


Control = (
    Connected | Authenticated | Subscribed | Heartbeat | VenueError | ConnectionSequence | Dropped
)

# Outgoing work for the I/O shell.


@dataclass(frozen=True, slots=True)
class SendText:
    text: str


@dataclass(frozen=True, slots=True)
class HttpGet:
    """A REST request; `purpose` and `symbol` route the response back to the right handler."""

    purpose: str  # "snapshot" | "trades"
    symbol: str
    path: str
    params: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    backfill: FetchTrades | None = None


@dataclass(frozen=True, slots=True)
class Reconnect:
    reason: str


Outgoing = SendText | HttpGet | Reconnect


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """What one connection subscribes to; secrets come from the environment, never a file."""

    symbols: tuple[str, ...]
    channels: tuple[str, ...] = ()
    key: str | None = None
    secret: str | None = None
    depth: int | None = None
    feed: str | None = None
    reconcile_s: float | None = 30.0
    """Venues without consecutive trade ids cannot show a lost trade: every this many seconds
    the trades since the previous reconciliation are fetched again (dedup drops the overlap)."""


@dataclass(frozen=True, slots=True)
class TradeBatch:
    """Decoded REST trade history page, plus the request for the next page if any."""

    trades: list[Trade]
    next_request: HttpGet | None = None


TOO_DEEP = "nested too deep to decode"
"""The reason for a message deeper than the JSON decoder goes (e.g. 100,000 `[`)."""


class Venue:
    """Base of every venue class (registered by class in the `mdc.venues` entry-point group; each
    connection gets an instance of its own); the defaults suit venues without the feature.

    The plugin contract: `name` (the id, equal to the entry-point name), `display_name`,
    `capabilities`, `create()` and `validate_config(table)` (with the `extra_config_problems`
    hook); the rest are the wire and session hooks below."""

    name: ClassVar[str] = ""
    """The plugin id: the `[venues.NAME]` table, the `venue` of every event; equal to the
    entry-point name (the registry refuses a plugin where they differ)."""
    display_name: ClassVar[str] = ""
    """For people (listings); a class that sets `name` but not this gets its name."""
    capabilities: ClassVar[Capabilities] = Capabilities(
        streams=("trades",), book_integrity="none", backfill="none", auth=False
    )
    default_ws_url: str = ""
    default_rest_url: str = ""
    default_channels: tuple[str, ...] = ()
    consecutive_trade_ids: bool = False
    kept: tuple[str, ...] = ()
    """Attributes holding per-connection state (each replaced on change, never changed in place)
    that `read` puts back when it refuses a message: a refused message leaves no trace."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__ and "display_name" not in cls.__dict__:
            cls.display_name = cls.name

    @classmethod
    def create(cls) -> Venue:
        """A new venue object for one connection (or one reading of a recording); a plugin that
        needs more than `cls()` overrides this."""
        return cls()

    @classmethod
    def validate_config(cls, table: Mapping[str, Any]) -> list[str]:
        """Every problem of a `[venues.NAME]` table, one line each, without raising: the checks
        every venue shares (the same ones the config loader runs), then the venue's own."""
        # mdc.config builds on this module, so it is imported when first asked for.
        from mdc.config import venue_table_problems  # noqa: PLC0415

        return venue_table_problems(cls, table, f"venues.{cls.name}")

    @classmethod
    def extra_config_problems(cls, table: Mapping[str, Any]) -> list[str]:
        """The venue's own checks of its table (say, a depth it does not offer), one line each;
        never raises. Runs after the shared checks, whatever they found."""
        return []

    # Derived from `capabilities`, so there is one place that says them.

    @property
    def needs_auth(self) -> bool:
        return self.capabilities.auth

    @property
    def has_books(self) -> bool:
        return self.capabilities.books

    @property
    def book_update_ids(self) -> bool:
        """Every book event carries the venue's update id (Binance U/u), so a book state can be
        named by it; otherwise only by venue time."""
        return self.capabilities.book_integrity == "update_ids"

    def decode(self, data: bytes, ts_recv: int) -> list[Event | Control]:
        raise NotImplementedError

    def read(self, data: bytes, ts_recv: int) -> list[Event | Control]:
        """`decode` as every caller must use it (Session, `parse`, `mdc ingest`): a message nested
        deeper than the JSON decoder goes (RecursionError, for any venue), or with an event the
        store cannot hold (`storable.problem`), is malformed, and nothing downstream sees it."""
        kept = [getattr(self, name) for name in self.kept]
        try:
            return self._checked(data, self.decode, data, ts_recv)
        except MalformedMessage:
            for name, value in zip(self.kept, kept, strict=True):
                setattr(self, name, value)
            raise

    def read_response(self, request: HttpGet, body: bytes, ts_recv: int) -> list[Event | HttpGet]:
        """A REST answer's events, then the request for its next page if any; checked as `read`
        checks a message."""
        return self._checked(body, self._response, request, body, ts_recv)

    def _response(self, request: HttpGet, body: bytes, ts_recv: int) -> list[Event | HttpGet]:
        if request.purpose == "snapshot":
            return [self.decode_snapshot(request, body, ts_recv)]
        batch = self.decode_trades(request, body, ts_recv)
        return [*batch.trades, *filter(None, [batch.next_request])]

    def _checked(self, data: bytes, decode: Callable[..., list], *args: object) -> list:
        try:
            items = decode(*args)
        except RecursionError as exc:
            raise self.malformed(TOO_DEEP, data) from exc
        problem = storable.problem(items)
        if problem is not None:
            raise self.malformed(problem, data)
        return items

    def parse(self, data: bytes, ts_recv: int) -> list[Event]:
        """Market events of one raw message; raises MalformedMessage."""
        return [item for item in self.read(data, ts_recv) if isinstance(item, Event)]

    def book_rules(self, config: SessionConfig) -> BookRules:
        raise NotImplementedError

    def book_sync(self, symbol: str, config: SessionConfig | None = None) -> BookSync:
        config = config or SessionConfig(symbols=(symbol,))
        return BookSync(self.name, symbol, self.book_rules(config))

    def ws_path(self, config: SessionConfig) -> str:
        return ""

    def on_open_messages(self, config: SessionConfig) -> list[str]:
        """Frames to send once connected (or once authenticated, for venues that need auth)."""
        return []

    def auth_messages(self, config: SessionConfig) -> list[str]:
        return []

    def snapshot_request(self, need: NeedSnapshot, config: SessionConfig) -> list[Outgoing]:
        return [Reconnect(f"{need.symbol}: {need.reason}")]

    def decode_snapshot(self, request: HttpGet, body: bytes, ts_recv: int) -> BookSnapshot:
        raise NotImplementedError

    def trades_request(self, fetch: FetchTrades, config: SessionConfig) -> HttpGet | None:
        return None

    def decode_trades(self, request: HttpGet, body: bytes, ts_recv: int) -> TradeBatch:
        raise NotImplementedError

    def malformed(self, reason: str, raw: bytes) -> MalformedMessage:
        return MalformedMessage(self.name, reason, raw)


PERMANENT_HTTP: dict[int, str] = {
    401: "fix: check the venue's API key and secret (key_env/secret_env in the config)",
    403: "fix: check that the venue's API key is valid and allowed to read market data",
    404: "fix: check the venue's rest_url in the config and its symbols",
}
"""REST answers that repeating the request cannot change, each with what to fix."""
RECENT_TRADES = 100_000
"""Trades remembered per session to drop re-deliveries on venues without consecutive ids."""
RECENT_DROPS = 1_000
"""Drop reasons kept for the shell to read (the count goes on past it)."""
SUBSCRIBE_MARGIN_NS = 1_000_000_000
"""Backfill for a symbol with no trade yet starts this long before we subscribed (clock skew)."""


class Phase(enum.Enum):
    DISCONNECTED = "disconnected"
    CONNECTED = "connected"
    AUTHENTICATING = "authenticating"
    STREAMING = "streaming"
    FAILED = "failed"


_PHASES: dict[Phase, set[Phase]] = {
    Phase.DISCONNECTED: {Phase.CONNECTED, Phase.FAILED},
    Phase.CONNECTED: {Phase.AUTHENTICATING, Phase.STREAMING, Phase.DISCONNECTED, Phase.FAILED},
    Phase.AUTHENTICATING: {Phase.STREAMING, Phase.DISCONNECTED, Phase.FAILED},
    Phase.STREAMING: {Phase.DISCONNECTED, Phase.FAILED},
    Phase.FAILED: {Phase.DISCONNECTED, Phase.FAILED},
}


@dataclass
class _Outbox:
    items: list[Outgoing] = field(default_factory=list)

    def drain(self) -> list[Outgoing]:
        out, self.items = self.items, []
        return out


class Session:
    """One venue connection's state: handshake phase, every symbol's book and trade continuity.

    The I/O shell calls `connected`, `receive`, `http_response`, `disconnected` (and `fail` on an
    error no retry can fix) and carries out `outbox()`. Data events always pass through; losses
    come out as Gap events.
    """

    def __init__(self, venue: Venue, config: SessionConfig, *, track_books: bool = True) -> None:
        if not config.symbols:
            raise ConfigError(f"{venue.name}: no symbols configured")
        self.venue = venue
        self._decode = venue.read
        self.config = config
        self.phase = Phase.DISCONNECTED
        self.track_books = track_books
        self.books: dict[str, BookSync] = {}
        self.trades: dict[str, TradeSync] = {}
        self.last_sequence: int | None = None
        self.failure: CollectorError | None = None
        self.last_trade_ts: dict[str, int] = {}
        self._backfill_by_time = False
        self._outbox = _Outbox()
        self._consecutive_ids = venue.consecutive_trade_ids
        self._reconciles = not venue.consecutive_trade_ids and config.reconcile_s is not None
        self._next_reconcile_ns = 0
        self._reconcile_from: dict[str, int] = {}
        self._recent_trades: OrderedDict[tuple, None] = OrderedDict()
        self.dropped = 0
        """Parts of messages read but not passed on (see Dropped), counted for the shell."""
        self.drops: deque[str] = deque(maxlen=RECENT_DROPS)
        """Why, for the latest of them; `take_drops` drains it (`mdc normalize`, per line)."""
        # Hot path: one dict lookup by item type instead of an isinstance chain per item.
        self._routes: dict[type, Callable[[Any, int], list[Event]]] = {
            Trade: self._on_trade,
            ConnectionSequence: self._on_connection_sequence,
        }
        if track_books:
            self._routes[BookSnapshot] = self._on_book_event
            self._routes[BookDelta] = self._on_book_delta

    def outbox(self) -> list[Outgoing]:
        self._collect_requests()
        return self._outbox.drain()

    def retry(self, request: Outgoing) -> None:
        """Queue again something the shell could not carry out (a failed REST call)."""
        self._outbox.items.append(request)

    def connected(self, now_ns: int) -> list[Event]:
        self._go(Phase.CONNECTED)
        self.last_sequence = None
        if self.venue.needs_auth:
            self._go(Phase.AUTHENTICATING)
            self._send(self.venue.auth_messages(self.config))
        else:
            self._start_streaming()
        return [self._status("connected", now_ns)]

    def receive(self, data: bytes, now_ns: int) -> list[Event]:
        if self._reconciles and now_ns >= self._next_reconcile_ns:
            self._reconcile(now_ns)
        items = self._decode(data, now_ns)
        routes = self._routes
        if len(items) == 1:  # the common case: the route's own list is the answer
            route = routes.get(type(items[0]))
            if route is not None:
                return route(items[0], now_ns)
        out: list[Event] = []
        for item in items:
            route = routes.get(type(item))
            if route is not None:
                out += route(item, now_ns)
            elif isinstance(item, Event):
                out.append(item)
            else:
                out += self._on_control(item, now_ns)
        return out

    def http_response(self, request: HttpGet, status: int, body: bytes, now_ns: int) -> list[Event]:
        if status != 200:
            message = body[:200].decode(errors="replace")
            fix = PERMANENT_HTTP.get(status)
            if fix is None:
                raise VenueRejected(self.venue.name, status, message, permanent=False)
            raise VenueRejected(self.venue.name, status, f"{message}; {fix}", permanent=True)
        out: list[Event] = []
        for item in self.venue.read_response(request, body, now_ns):
            if isinstance(item, HttpGet):
                self._outbox.items.append(item)
            else:
                out.extend(self._on_event(item, now_ns))
        return out

    def take_drops(self) -> list[str]:
        """Why parts of messages were not passed on, since the last call (drained)."""
        out = list(self.drops)
        self.drops.clear()
        return out

    def disconnected(self, now_ns: int, reason: str) -> list[Event]:
        """Every book is invalid now; trade continuity carries over to the next connection."""
        if self.phase is not Phase.DISCONNECTED:
            self._go(Phase.DISCONNECTED)
        # Frames queued for the old connection (auth, subscribe) must not reach the next one.
        self._outbox.items = [i for i in self._outbox.items if not isinstance(i, SendText)]
        self._backfill_by_time = bool(self.last_trade_ts)
        out: list[Event] = [
            self._status("disconnected", now_ns, reason),
            Gap(self.venue.name, "", now_ns, now_ns, "connection", f"disconnected: {reason}"),
        ]
        return out + self._invalidate_books(f"disconnected: {reason}", now_ns)

    def _start_streaming(self) -> None:
        self._go(Phase.STREAMING)
        self._send(self.venue.on_open_messages(self.config))

    def _on_event(self, event: Event, now_ns: int) -> list[Event]:
        route = self._routes.get(type(event))
        return [event] if route is None else route(event, now_ns)

    def _on_book_event(self, event: BookSnapshot, now_ns: int) -> list[Event]:
        sync = self.books.get(event.symbol) or self._book(event.symbol)
        gaps = sync.on_event(event)
        return [event, *gaps] if gaps else [event]

    def _on_book_delta(self, delta: BookDelta, now_ns: int) -> list[Event]:
        sync = self.books.get(delta.symbol) or self._book(delta.symbol)
        gaps = sync.on_delta(delta)
        return [delta, *gaps] if gaps else [delta]

    def _on_trade(self, trade: Trade, now_ns: int) -> list[Event]:
        if trade.aggregate:  # ids of their own (Binance aggTrade), not the symbol's trade ids:
            return [trade]  # passed on; the store's identity dedup drops repeats
        if self._consecutive_ids:
            sync = self.trades.get(trade.symbol) or self.trade_sync(trade.symbol)
            return sync.on_trade(trade) or self._drop(
                f"{trade.symbol} trade {trade.trade_id}: a repeat (at or below the last id "
                f"{sync.last_id} and in no open gap)"
            )
        # No ids to follow: drop what we already have (a backfill or reconciliation overlaps the
        # live stream), bounded to the most recent trades.
        key = (trade.symbol, trade.exchange, trade.trade_id, trade.ts_event)
        if key in self._recent_trades:
            return self._drop(f"{trade.symbol} trade {trade.trade_id}: a repeat of a recent one")
        self._recent_trades[key] = None
        if len(self._recent_trades) > RECENT_TRADES:
            self._recent_trades.popitem(last=False)
        if trade.ts_event > self.last_trade_ts.get(trade.symbol, 0):
            self.last_trade_ts[trade.symbol] = trade.ts_event
        return [trade]

    def resume(self, symbol: str, point: ResumePoint) -> None:
        """Continue after the last durable trade (a restarted provider). Venues with consecutive
        ids find the loss at the next live trade and fetch the holes between durable trades
        again; the others backfill by time once subscribed."""
        if self.venue.consecutive_trade_ids:
            self.trade_sync(symbol).resume(point)
        else:
            self.last_trade_ts[symbol] = point.last_ts_event
            self._backfill_by_time = True

    def malformed(self, reason: str, now_ns: int) -> list[Event]:
        """A message we could not read is a message lost: books may be wrong now, and on venues
        without trade ids, so may the trades since the last one we have."""
        out: list[Event] = [
            Gap(self.venue.name, "", now_ns, now_ns, "connection", f"malformed message: {reason}")
        ]
        out += self._invalidate_books("malformed message", now_ns)
        if not self.venue.consecutive_trade_ids:
            out += self._backfill_since_last_trades(now_ns)
        return out

    def _reconcile(self, now_ns: int) -> None:
        self._next_reconcile_ns = now_ns + int(self.config.reconcile_s * 1e9)
        for symbol, since in self._reconcile_from.items():
            request = self.venue.trades_request(FetchTrades(symbol, None, None, since), self.config)
            if request is not None:
                self._outbox.items.append(request)
        self._reconcile_from = dict(self.last_trade_ts)

    def _note_subscribed(self, now_ns: int) -> None:
        """Without trade ids, a symbol that has not traded yet is backfilled from here on, and
        the next reconciliation covers the first period too (it reads from where the one before
        left off, and before the first there was none: a loss in it went unseen)."""
        if not self.venue.consecutive_trade_ids:
            for symbol in self.config.symbols:
                self.last_trade_ts.setdefault(symbol, now_ns - SUBSCRIBE_MARGIN_NS)
                self._reconcile_from.setdefault(symbol, self.last_trade_ts[symbol])

    def _backfill_since_last_trades(self, now_ns: int) -> list[Event]:
        """Venues without trade ids: everything since each symbol's last trade may be missing."""
        self._backfill_by_time = False
        gaps: list[Event] = []
        for symbol, ts in self.last_trade_ts.items():
            request = self.venue.trades_request(FetchTrades(symbol, None, None, ts), self.config)
            if request is not None:
                self._outbox.items.append(request)
                gaps.append(
                    Gap(
                        self.venue.name,
                        symbol,
                        now_ns,
                        now_ns,
                        "trades",
                        "reconnected: backfilling by time",
                        from_ts=ts,
                    )
                )
        return gaps

    def trade_sync(self, symbol: str) -> TradeSync:
        sync = self.trades.get(symbol)
        if sync is None:
            sync = self.trades[symbol] = TradeSync(self.venue.name, symbol)
        return sync

    def _on_control(self, item: Control, now_ns: int) -> list[Event]:
        match item:
            case Authenticated():
                self._start_streaming()
                return [self._status("authenticated", now_ns)]
            case Subscribed():
                self._note_subscribed(now_ns)
                gaps = self._backfill_since_last_trades(now_ns) if self._backfill_by_time else []
                return [self._status("subscribed", now_ns, item.detail), *gaps]
            case VenueError():
                return self._on_venue_error(item, now_ns)
            case Heartbeat():
                self._on_heartbeat(item)
            case Dropped():
                return self._drop(item.reason)
        return []

    def _drop(self, reason: str) -> list[Event]:
        self.dropped += 1
        self.drops.append(reason)
        return []

    def _on_heartbeat(self, beat: Heartbeat) -> None:
        """A heartbeat naming a later trade than the last we have: the tail was lost; fetch it."""
        sync = self.trades.get(beat.symbol or "")
        if sync is None or sync.last_id is None or beat.last_trade_id is None:
            return
        if beat.last_trade_id > sync.last_id:
            fetch = FetchTrades(sync.symbol, sync.last_id + 1, beat.last_trade_id)
            self._outbox.items.extend(self._trade_requests([fetch]))

    def _on_venue_error(self, error: VenueError, now_ns: int) -> list[Event]:
        """A permanent rejection fails the session (the shell stops reconnecting and escalates)."""
        detail = f"code {error.code}: {error.message}"
        if not error.permanent:
            return [self._status("error", now_ns, detail)]
        rejected = VenueRejected(self.venue.name, error.code, error.message, permanent=True)
        return self.fail(rejected, now_ns, detail)

    def fail(self, error: CollectorError, now_ns: int, detail: str = "") -> list[Event]:
        """An error no retry can fix: the session fails for good (the shell stops), and the
        Status event says why (`detail`, else the error's own message)."""
        self.failure = error
        if self.phase is not Phase.FAILED:
            self._go(Phase.FAILED)
        return [self._status("failed", now_ns, detail or str(error))]

    def _on_connection_sequence(self, item: ConnectionSequence, now_ns: int) -> list[Event]:
        """A per-connection counter: any jump means some message (book or trade) was lost."""
        value = item.value
        last, self.last_sequence = self.last_sequence, value
        if last is None or value == last + 1:
            return []
        if value <= last:
            self.last_sequence = last
            return []
        out: list[Event] = [
            Gap(
                self.venue.name,
                "",
                now_ns,
                now_ns,
                "connection",
                "sequence gap",
                from_id=last + 1,
                to_id=value - 1,
            )
        ]
        return out + self._invalidate_books("connection sequence gap", now_ns)

    def restarted(self, now_ns: int) -> list[Event]:
        """This connection's keeper is a new life (a provider restarted after a crash): the last
        one may have been cut off anywhere, with no disconnect recorded, so every book is marked
        with a Gap here, before any event of the new life (its deltas may come before its
        snapshot)."""
        return self._invalidate_books("provider restarted", now_ns)

    def _invalidate_books(self, reason: str, now_ns: int) -> list[Event]:
        """A loss at the connection level: every book may be wrong. The per-symbol Gap goes out
        in line with the book events, so the stored book stream is marked exactly where the loss
        happened (also when the books are kept elsewhere, by a BookActor)."""
        if self.track_books:
            out: list[Event] = []
            for sync in self.books.values():
                out += sync.invalidate(reason, ts_event=now_ns, ts_recv=now_ns)
            return out
        if not self.venue.has_books:
            return []
        name = self.venue.name
        return [Gap(name, s, now_ns, now_ns, "book", reason) for s in self.config.symbols]

    def _book(self, symbol: str) -> BookSync:
        sync = self.books.get(symbol)
        if sync is None:
            sync = self.books[symbol] = self.venue.book_sync(symbol, self.config)
        return sync

    def _collect_requests(self) -> None:
        for sync in self.books.values():
            for need in sync.requests():
                self._outbox.items.extend(self.venue.snapshot_request(need, self.config))
        fetches = [f for sync in self.trades.values() for f in sync.requests()]
        self._outbox.items.extend(self._trade_requests(fetches))

    def _trade_requests(self, fetches: Sequence[FetchTrades]) -> list[Outgoing]:
        requests = (self.venue.trades_request(f, self.config) for f in fetches)
        return [r for r in requests if r is not None]

    def _send(self, texts: list[str]) -> None:
        self._outbox.items.extend(SendText(t) for t in texts)

    def _status(self, state: str, now_ns: int, detail: str = "") -> Status:
        return Status(self.venue.name, "", now_ns, now_ns, state, detail)  # type: ignore[arg-type]

    def _go(self, new: Phase) -> None:
        if new not in _PHASES[self.phase]:
            raise IllegalTransition(f"{self.venue.name} session", self.phase, new)
        self.phase = new
