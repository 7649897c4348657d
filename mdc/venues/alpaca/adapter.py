"""The Alpaca venue: decoding of stream frames (typed by their `T` tag) and routing of each item
to its builder, the session rules (feed path, auth and subscribe frames) and the REST trade
history by time (small, and it shares the credentials with the stream auth); builders in
alpaca.parse."""

from __future__ import annotations

import dataclasses
from urllib.parse import quote as url_quote

import msgspec

from mdc.errors import ConfigError, MalformedMessage
from mdc.events import Event
from mdc.sync import FetchTrades, TrustingRules
from mdc.timefmt import format_rfc3339_ns
from mdc.venues.alpaca.parse import (
    NAME,
    AlpacaBuilders,
    _ignored,
    _subscribed,
    _success,
    _trade_change,
    _venue_error,
)
from mdc.venues.alpaca.wire import (
    _ITEM,
    _KNOWN_TAGS,
    CHANNELS,
    _Bar,
    _CancelError,
    _Correction,
    _DailyBar,
    _Error,
    _Luld,
    _Msg,
    _Peek,
    _Quote,
    _Subscription,
    _Success,
    _Trade,
    _TradesPage,
    _TradingStatus,
    _UpdatedBar,
)
from mdc.venues.base import (
    Control,
    HttpGet,
    SessionConfig,
    TradeBatch,
    Venue,
)
from mdc.venues.contract import Capabilities

KEY_ENV = "APCA_API_KEY_ID"
SECRET_ENV = "APCA_API_SECRET_KEY"
HISTORY_LIMIT = 10_000
DEFAULT_FEED = "iex"


class Alpaca(AlpacaBuilders, Venue):
    name = NAME
    display_name = "Alpaca"
    # Stocks v2 streams quotes, not order books; REST history by `start` time only; key/secret.
    capabilities = Capabilities(
        streams=("trades", "quotes", "bars"), book_integrity="none", backfill="time", auth=True
    )
    default_ws_url = "wss://stream.data.alpaca.markets"
    default_rest_url = "https://data.alpaca.markets"
    default_channels = ("trades", "quotes", "bars")
    consecutive_trade_ids = False  # ids are per exchange and not consecutive even there

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

    # -- REST ------------------------------------------------------------------------------

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


def _encode(message: dict[str, object]) -> str:
    return msgspec.json.encode(message).decode()
