"""Kraken spot: WebSocket v2 (primary) and v1 array messages, REST trade history and depth.

Wire facts (specs/exchanges.md section 3): v2 sends prices and sizes as JSON numbers whose text
keeps every digit, v1 as strings; there are no book sequence numbers, only a CRC32 checksum of the
top 10 levels per side after every message, computed from the digits as sent (Decimal keeps them).
Kraken stops reporting levels pushed out of the subscribed depth, so the book is truncated to it.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import InvalidOperation

import msgspec

from mdc.errors import ConfigError, VenueRejected
from mdc.events import BookDelta, BookSnapshot, Event, Level, Quote, Trade
from mdc.sync import BookSync, ChecksumRules, FetchTrades, NeedSnapshot
from mdc.timefmt import BadTimestamp, parse_decimal_seconds_ns, parse_rfc3339_ns
from mdc.venues.base import (
    Connected,
    Control,
    Heartbeat,
    HttpGet,
    Outgoing,
    SendText,
    SessionConfig,
    Subscribed,
    TradeBatch,
    Venue,
    VenueError,
)  # fmt: skip
from mdc.venues.decimals import TEXT_ERRORS, DecimalTexts, TextDecoder
from mdc.venues.kraken_checksum import Checksum
from mdc.venues.kraken_wire import (
    Bare,
    Envelope,
    MethodResult,
    RestDepth,
    RestTrade,
    RestTrades,
    V1Book,
    V1Level,
    V1Spread,
    V1Ticker,
    V1Trade,
    V2Book,
    V2Status,
    V2Ticker,
    V2Trade,
    v2_message,
)

NAME = "kraken"
DEFAULT_DEPTH = 10
DEPTHS = (10, 25, 100, 500, 1000)
REST_PAGE = 1000
# Kraken's legacy asset codes (v1 pairs and REST) against the common ones (v2, ours).
LEGACY_ASSETS = {"XBT": "BTC", "XDG": "DOGE"}
COMMON_ASSETS = {common: legacy for legacy, common in LEGACY_ASSETS.items()}
# Kraken's `side` is the taker's (the order that triggered the trade), i.e. the aggressor.
V1_SIDES = {"b": "buy", "s": "sell"}
V1_ORDER_TYPES = {"m": "market", "l": "limit"}
_FRACTION_SCALE = [10 ** (9 - digits) for digits in range(10)]


class _Invalid(Exception):
    """A decoded message breaks a rule the schema cannot express; `decode` makes it malformed."""


checksum = Checksum()
"""Kraken's CRC32 of a book (see kraken_checksum); each connection's venue object has its own."""


class Kraken(Venue):
    name = NAME
    default_ws_url = "wss://ws.kraken.com"
    default_rest_url = "https://api.kraken.com"
    default_channels = ("book", "trade", "ticker")
    consecutive_trade_ids = True  # v2 trade_id is sequential per pair; v1 trades carry none
    kept = ("_v1_depths",)

    def __init__(self) -> None:
        self._envelope = msgspec.json.Decoder(Envelope)
        self._v2: dict[bytes, tuple[msgspec.json.Decoder, Callable]] = {
            b"book": (TextDecoder(v2_message(V2Book), numbers=True), self._v2_book),
            b"trade": (TextDecoder(v2_message(V2Trade), numbers=True), self._v2_trade),
            b"ticker": (TextDecoder(v2_message(V2Ticker)), self._v2_ticker),
            b"status": (TextDecoder(v2_message(V2Status)), self._v2_status),
            b"heartbeat": (TextDecoder(Bare), lambda m, t: [Heartbeat()]),
            b"instrument": (TextDecoder(Bare), lambda m, t: []),
        }
        self._v1: dict[str, tuple[msgspec.json.Decoder, Callable]] = {
            "book": (TextDecoder(list[int | str | V1Book]), self._v1_book),
            "trade": (TextDecoder(list[int | str | list[V1Trade]]), self._v1_trade),
            "spread": (TextDecoder(list[int | str | V1Spread]), self._v1_spread),
            "ticker": (TextDecoder(list[int | str | V1Ticker]), self._v1_ticker),
        }
        self._v2_fast = {channel: (d.fast, build) for channel, (d, build) in self._v2.items()}
        self._rest_trades = msgspec.json.Decoder(RestTrades)
        self._rest_depth = msgspec.json.Decoder(RestDepth)
        self._symbols: dict[str, str] = {}
        self._v1_depths: dict[str, int] = {}
        self._second = ("", 0)  # the last whole second parsed: its text and Unix time in ns
        self._dec = DecimalTexts()
        self._checksum = Checksum()

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

    # -- websocket -------------------------------------------------------------------------

    def decode(self, data: bytes, ts_recv: int) -> list[Event | Control]:
        """Hot path: a v2 channel message routed by a peek at its channel and decoded in one
        pass by the text schema; anything that fails there takes the general path, which gives
        the venue's usual result or error (the builders change nothing but caches)."""
        if data.startswith(b'{"channel":"'):
            route = self._v2_fast.get(data[12 : data.find(b'"', 12)])
            if route is not None:
                try:
                    return route[1](route[0](data), ts_recv)
                except (msgspec.DecodeError, ValueError, _Invalid, InvalidOperation):
                    pass
        return self._decode(data, ts_recv)

    def _decode(self, data: bytes, ts_recv: int) -> list[Event | Control]:
        try:
            if data[:1] == b"[":
                return self._decode_v1(data, ts_recv)
            if data.startswith(_CHANNEL_PREFIX):
                channel = data[len(_CHANNEL_PREFIX) : data.find(b'"', len(_CHANNEL_PREFIX))]
                return self._decode_v2(channel, data, ts_recv)
            env = self._envelope.decode(data)
            if env.channel is not None:
                return self._decode_v2(env.channel.encode(), data, ts_recv)
            if env.method is not None:
                return self._method(env, data)
            if env.event is not None:
                return self._v1_event(env, data)
        except (msgspec.DecodeError, ValueError, _Invalid) as exc:  # ValueError: bad times
            raise self.malformed(str(exc), data) from exc
        raise self.malformed("neither a channel message, a method response nor an event", data)

    def _decode_v2(self, channel: bytes, data: bytes, ts_recv: int) -> list[Event | Control]:
        route = self._v2.get(channel)
        if route is None:
            raise self.malformed(f"unknown channel {channel.decode(errors='replace')!r}", data)
        decoder, build = route
        return _built(decoder, build, data, ts_recv)

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

    def _decode_v1(self, data: bytes, ts_recv: int) -> list[Event | Control]:
        """Route by the channel name peeked from the message's tail, then decode in one pass."""
        channel = _v1_channel(data)
        kind, _, param = channel.partition("-")
        route = self._v1.get(kind)
        if route is None:
            raise self.malformed(f"unknown v1 channel {channel!r}", data)
        decoder, build = route
        return _built(decoder, self._v1_payloads, data, kind, build, param, ts_recv)

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

    # -- session ---------------------------------------------------------------------------

    def ws_path(self, config: SessionConfig) -> str:
        return "/v2"

    def on_open_messages(self, config: SessionConfig) -> list[str]:
        channels = config.channels or self.default_channels
        return [_subscribe(c, config.symbols, _depth(config)) for c in channels]

    def book_rules(self, config: SessionConfig) -> ChecksumRules:
        return ChecksumRules(self._checksum, depth=_depth(config))

    def book_sync(self, symbol: str, config: SessionConfig | None = None) -> BookSync:
        """Depth from the v1 channel name (`book-25`) when seen, else the subscribed depth."""
        config = config or SessionConfig(symbols=(symbol,))
        depth = self._v1_depths.get(symbol) or _depth(config)
        return BookSync(NAME, symbol, ChecksumRules(self._checksum, depth=depth))

    def snapshot_request(self, need: NeedSnapshot, config: SessionConfig) -> list[Outgoing]:
        """Kraken sends a fresh snapshot on every (re)subscription."""
        unsubscribe = {"channel": "book", "symbol": [v2_pair(need.symbol)], "depth": _depth(config)}
        return [
            SendText(_json({"method": "unsubscribe", "params": unsubscribe})),
            SendText(_subscribe("book", (need.symbol,), _depth(config))),
        ]

    def decode_snapshot(self, request: HttpGet, body: bytes, ts_recv: int) -> BookSnapshot:
        """`/0/public/Depth` (not needed by the session: resubscribing brings a snapshot)."""
        book = self._rest_result(self._rest_depth, body, "Depth")
        if len(book) != 1:
            raise self.malformed("Depth result must hold exactly one pair", body)
        side = next(iter(book.values()))
        bids = tuple([(lv.price, lv.volume) for lv in side.bids])
        asks = tuple([(lv.price, lv.volume) for lv in side.asks])
        return BookSnapshot(NAME, request.symbol, ts_recv, ts_recv, bids, asks)

    def trades_request(self, fetch: FetchTrades, config: SessionConfig) -> HttpGet | None:
        """`since` is Kraken's exclusive ns cursor; without a time, the latest page is asked for."""
        params: list[tuple[str, str]] = [("pair", rest_pair(fetch.symbol))]
        if fetch.from_ts is not None:
            params.append(("since", str(max(fetch.from_ts - 1, 0))))
        elif fetch.from_id is None:
            return None
        return HttpGet("trades", fetch.symbol, "/0/public/Trades", tuple(params), backfill=fetch)

    def decode_trades(self, request: HttpGet, body: bytes, ts_recv: int) -> TradeBatch:
        result = self._rest_result(self._rest_trades, body, "Trades")
        last = result.get("last")
        rows = [v for k, v in result.items() if k != "last"]
        if len(rows) != 1 or not isinstance(rows[0], list) or not isinstance(last, str):
            raise self.malformed("Trades result must hold one pair's rows and 'last'", body)
        fetch = request.backfill
        low = fetch.from_id if fetch and fetch.from_id is not None else None
        high = fetch.to_id if fetch else None
        trades = [
            Trade(NAME, request.symbol, int(r.time.scaleb(9)), ts_recv, r.price, r.volume,
                  V1_SIDES[r.side], r.trade_id, conditions=(V1_ORDER_TYPES[r.order_type],))
            for r in rows[0]
            if (low is None or r.trade_id >= low) and (high is None or r.trade_id <= high)
        ]  # fmt: skip
        return TradeBatch(trades, _next_page(request, rows[0], last))

    def _rest_result(self, decoder: msgspec.json.Decoder, body: bytes, what: str) -> dict:
        try:
            reply = decoder.decode(body)
        except msgspec.DecodeError as exc:
            raise self.malformed(f"{what}: {exc}", body) from exc
        if reply.error:
            permanent = any(e.startswith("EQuery:") for e in reply.error)
            raise VenueRejected(NAME, None, "; ".join(reply.error), permanent=permanent)
        return reply.result


_CHANNEL_PREFIX = b'{"channel":"'
_json_encoder = msgspec.json.Encoder()


def _json(value: object) -> str:
    return _json_encoder.encode(value).decode()


def _subscribe(channel: str, symbols: tuple[str, ...], depth: int) -> str:
    params: dict[str, object] = {"channel": channel, "symbol": [v2_pair(s) for s in symbols]}
    if channel == "book":
        params["depth"] = depth
    if channel in ("book", "trade", "ticker"):
        params["snapshot"] = True
    return _json({"method": "subscribe", "params": params})


def _depth(config: SessionConfig) -> int:
    depth = config.depth or DEFAULT_DEPTH
    if depth not in DEPTHS:
        raise ConfigError(f"kraken: book depth {depth} is not one of {DEPTHS}")
    return depth


def _next_page(request: HttpGet, rows: list[RestTrade], last: str) -> HttpGet | None:
    """Page on with the `last` cursor until the wanted ids are covered (or history runs out)."""
    fetch = request.backfill
    params = dict(request.params)
    if fetch is None or not rows or last == params.get("since"):
        return None
    newest = max(r.trade_id for r in rows)
    wanted_more = newest < fetch.to_id if fetch.to_id is not None else len(rows) >= REST_PAGE
    if not wanted_more:
        return None
    params["since"] = last
    return HttpGet("trades", request.symbol, request.path, tuple(params.items()), backfill=fetch)


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


def v2_pair(symbol: str) -> str:
    """'BTC-USD' -> 'BTC/USD'."""
    return symbol.upper().replace("-", "/")


def rest_pair(symbol: str) -> str:
    """'BTC-USD' -> 'XBTUSD' (REST still takes the legacy asset codes)."""
    base, _, quote = symbol.upper().partition("-")
    return COMMON_ASSETS.get(base, base) + COMMON_ASSETS.get(quote, quote)
