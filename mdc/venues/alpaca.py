"""Alpaca market data stream v2 (stocks): trades, quotes, bars; REST trade history by time.

Wire facts (specs/exchanges.md section 4): every frame is a JSON array of objects tagged by `T`
(control messages come alone, data may be batched); prices are JSON numbers, sizes ints, `t` is
RFC 3339 with up to 9 fraction digits. There are no sequence numbers and trade ids are per
exchange (`x`), so loss shows only as a disconnect, and the gap is backfilled by time over REST.
Alpaca has no order book feed.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from urllib.parse import quote as url_quote

import msgspec

from mdc.errors import ConfigError, MalformedMessage
from mdc.events import Bar, Event, Quote, Trade
from mdc.sync import FetchTrades, TrustingRules
from mdc.timefmt import format_rfc3339_ns, parse_rfc3339_ns
from mdc.venues.base import (
    Authenticated,
    Connected,
    Control,
    Dropped,
    HttpGet,
    SessionConfig,
    Subscribed,
    TradeBatch,
    Venue,
    VenueError,
)

NAME = "alpaca"
KEY_ENV = "APCA_API_KEY_ID"
SECRET_ENV = "APCA_API_SECRET_KEY"
HISTORY_LIMIT = 10_000
DEFAULT_FEED = "iex"
CHANNELS = (
    "trades", "quotes", "bars", "dailyBars", "updatedBars", "statuses", "lulds", "corrections",
    "cancelErrors", "imbalances",
)  # fmt: skip
# 402 auth failed, 405 symbol limit, 408 v2 not enabled, 409 insufficient subscription: retrying
# the same connection cannot succeed. 406 (connection limit) clears once the other connection
# goes, so it is retryable, with backoff.
PERMANENT_CODES = frozenset({402, 405, 408, 409})
BAR_SECONDS = {"b": 60, "u": 60, "d": 86_400}
_FRACTION_SCALE = [10 ** (9 - digits) for digits in range(10)]


class _Msg(msgspec.Struct, tag_field="T", gc=False):
    """Base of every stream item; the `T` tag picks the type in the same decoding pass."""


class _Success(_Msg, tag="success"):
    msg: str


class _Subscription(_Msg, tag="subscription"):
    trades: list[str] = []
    quotes: list[str] = []
    bars: list[str] = []
    dailyBars: list[str] = []
    updatedBars: list[str] = []
    statuses: list[str] = []
    lulds: list[str] = []
    corrections: list[str] = []
    cancelErrors: list[str] = []
    imbalances: list[str] = []


class _Error(_Msg, tag="error"):
    code: int
    msg: str


class _Trade(_Msg, tag="t"):
    S: str
    i: int
    x: str
    p: Decimal
    s: Decimal
    t: str
    c: tuple[str, ...] = ()
    z: str | None = None


class _Quote(_Msg, tag="q"):
    S: str
    bx: str
    bp: Decimal
    bs: Decimal
    ax: str
    ap: Decimal
    as_: Decimal = msgspec.field(name="as")
    t: str
    c: tuple[str, ...] = ()
    z: str | None = None


class _Bar(_Msg, tag="b"):
    S: str
    o: Decimal
    h: Decimal
    l: Decimal  # noqa: E741 - the wire name
    c: Decimal
    v: Decimal
    t: str
    n: int | None = None
    vw: Decimal | None = None


class _DailyBar(_Bar, tag="d"):
    pass


class _UpdatedBar(_Bar, tag="u"):
    pass


class _TradingStatus(_Msg, tag="s"):
    """Halts and resumptions; events.py has no event for them yet: checked, then dropped."""

    S: str
    sc: str
    sm: str
    rc: str
    rm: str
    t: str
    z: str | None = None


class _Luld(_Msg, tag="l"):
    S: str
    u: Decimal
    d: Decimal
    i: str
    t: str
    z: str | None = None


class _Correction(_Msg, tag="c"):
    """Trade `oi` replaced by `ci`; no contract event yet (see the module's report)."""

    S: str
    x: str
    oi: int
    op: Decimal
    os: Decimal
    ci: int
    cp: Decimal
    cs: Decimal
    t: str
    oc: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    z: str | None = None


class _CancelError(_Msg, tag="x"):
    """Trade `i` cancelled (`a` "C") or in error ("E"); no contract event yet."""

    S: str
    i: int
    x: str
    p: Decimal
    s: Decimal
    a: str
    t: str
    z: str | None = None


_ITEM = (
    _Success | _Subscription | _Error | _Trade | _Quote | _Bar | _DailyBar | _UpdatedBar
    | _TradingStatus | _Luld | _Correction | _CancelError
)  # fmt: skip
_KNOWN_TAGS = frozenset(t.__struct_config__.tag for t in _ITEM.__args__)


class _Peek(msgspec.Struct, gc=False):
    T: str


class _RestTrade(msgspec.Struct, gc=False):
    t: str
    x: str
    p: Decimal
    s: Decimal
    i: int
    c: tuple[str, ...] = ()
    z: str | None = None


class _TradesPage(msgspec.Struct, gc=False):
    """`/v2/stocks/{symbol}/trades` (a list) or `/v2/stocks/trades` (a dict by symbol)."""

    trades: list[_RestTrade] | dict[str, list[_RestTrade]] | None
    symbol: str | None = None
    next_page_token: str | None = None


class Alpaca(Venue):
    name = NAME
    default_ws_url = "wss://stream.data.alpaca.markets"
    default_rest_url = "https://data.alpaca.markets"
    default_channels = ("trades", "quotes", "bars")
    consecutive_trade_ids = False  # ids are per exchange and not consecutive even there
    needs_auth = True
    has_books = False  # stocks v2 streams quotes, not order books

    def __init__(self) -> None:
        self._frame = msgspec.json.Decoder(list[_ITEM])
        self._item = msgspec.json.Decoder(_ITEM)
        self._raw_items = msgspec.json.Decoder(list[msgspec.Raw])
        self._peek = msgspec.json.Decoder(_Peek)
        self._page = msgspec.json.Decoder(_TradesPage)
        self._build = {
            _Trade: self._trade,
            _Quote: self._quote,
            _Bar: self._bar,
            _DailyBar: self._bar,
            _UpdatedBar: self._bar,
            _Success: _success,
            _Subscription: _subscribed,
            _Error: _venue_error,
            _TradingStatus: _ignored,
            _Luld: _ignored,
            _Correction: _trade_change,
            _CancelError: _trade_change,
        }
        self._seconds: dict[str, int] = {}

    # -- websocket -------------------------------------------------------------------------

    def decode(self, data: bytes, ts_recv: int) -> list[Event | Control]:
        try:
            items = self._frame.decode(data)
        except msgspec.ValidationError as exc:
            if data.lstrip()[:1] == b"{":
                return self._bare(data, ts_recv)
            items = self._known_items(data, exc)
        except msgspec.DecodeError as exc:
            raise self.malformed(str(exc), data) from exc
        build = self._build
        out: list[Event | Control] = []
        try:
            for m in items:
                item = build[type(m)](m, ts_recv)
                if item is not None:
                    out.append(item)
        except ValueError as exc:
            raise self.malformed(str(exc), data) from exc
        return out

    def _bare(self, data: bytes, ts_recv: int) -> list[Event | Control]:
        """One message not wrapped in a frame, as Alpaca's documentation prints them (the wire
        always sends arrays): read as a one-item frame; errors name the bytes as given."""
        try:
            return self.decode(b"[" + data + b"]", ts_recv)
        except MalformedMessage as exc:
            raise self.malformed(exc.reason, data) from exc

    def _known_items(self, data: bytes, error: msgspec.ValidationError) -> list[_Msg]:
        """Slow path: a frame that failed validation. Alpaca adds message types without notice
        and asks clients not to fail on them, so items of unknown type are skipped; anything
        else that does not fit is malformed."""
        try:
            raws = self._raw_items.decode(data)
            tags = [self._peek.decode(raw).T for raw in raws]
            items = [self._item.decode(raw) for raw, tag in zip(raws, tags, strict=True)
                     if tag in _KNOWN_TAGS]  # fmt: skip
        except msgspec.DecodeError as exc:
            raise self.malformed(str(exc), data) from exc
        if len(items) == len(raws):
            raise self.malformed(str(error), data) from error
        return items

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

    # -- session ---------------------------------------------------------------------------

    def ws_path(self, config: SessionConfig) -> str:
        feed = config.feed or DEFAULT_FEED
        if not feed.replace("_", "").isalpha():
            raise ConfigError(f"{NAME}: feed {feed!r} is not a feed name (iex, sip, delayed_sip)")
        return f"/v2/{feed}"

    def book_rules(self, config: SessionConfig) -> TrustingRules:
        """Alpaca has no order book; a BookSync would never receive anything."""
        return TrustingRules()

    def auth_messages(self, config: SessionConfig) -> list[str]:
        key, secret = _credentials(config)
        return [_encode({"action": "auth", "key": key, "secret": secret})]

    def on_open_messages(self, config: SessionConfig) -> list[str]:
        channels = config.channels or self.default_channels
        unknown = sorted(set(channels) - set(CHANNELS))
        if unknown:
            raise ConfigError(f"{NAME}: unknown channels {unknown}; valid: {', '.join(CHANNELS)}")
        symbols = list(config.symbols)
        return [_encode({"action": "subscribe", **dict.fromkeys(channels, symbols)})]

    def trades_request(self, fetch: FetchTrades, config: SessionConfig) -> HttpGet | None:
        """Trades from `from_ts` on (inclusive, so same-nanosecond trades are not skipped; the
        overlap with what we have collapses on identity). Alpaca cannot be asked by id."""
        if fetch.from_ts is None:
            return None
        key, secret = _credentials(config)
        params = (
            ("start", format_rfc3339_ns(fetch.from_ts)),
            ("limit", str(HISTORY_LIMIT)),
            ("feed", config.feed or DEFAULT_FEED),
        )
        headers = (("APCA-API-KEY-ID", key), ("APCA-API-SECRET-KEY", secret))
        path = f"/v2/stocks/{url_quote(fetch.symbol, safe='')}/trades"
        return HttpGet("trades", fetch.symbol, path, params, headers, backfill=fetch)

    def decode_trades(self, request: HttpGet, body: bytes, ts_recv: int) -> TradeBatch:
        try:
            page = self._page.decode(body)
            by_symbol = (
                page.trades
                if isinstance(page.trades, dict)
                else {page.symbol or request.symbol: page.trades or []}
            )
            trades = [
                self._rest_trade(symbol, r, ts_recv)
                for symbol, rows in by_symbol.items()
                for r in rows
            ]
        except (msgspec.DecodeError, ValueError) as exc:
            raise self.malformed(f"trades history: {exc}", body) from exc
        return TradeBatch(trades, _next_page(request, page.next_page_token))

    def _rest_trade(self, symbol: str, r: _RestTrade, ts_recv: int) -> Trade:
        return Trade(NAME, symbol, self.ns(r.t), ts_recv, r.p, r.s, "unknown", r.i, exchange=r.x,
                     conditions=r.c, tape=r.z)  # fmt: skip


def _next_page(request: HttpGet, token: str | None) -> HttpGet | None:
    """The same request (same start, same headers) with the page token of the next page."""
    if not token:
        return None
    params = (*(p for p in request.params if p[0] != "page_token"), ("page_token", token))
    return dataclasses.replace(request, params=params)


def _credentials(config: SessionConfig) -> tuple[str, str]:
    if not config.key or not config.secret:
        raise ConfigError(f"{NAME}: API credentials missing: set {KEY_ENV} and {SECRET_ENV}")
    return config.key, config.secret


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


def _encode(message: dict[str, object]) -> str:
    return msgspec.json.encode(message).decode()
