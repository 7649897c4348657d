"""The Kraken venue: routing of v2 and v1 messages to their decoder and builder, and the session
rules (subscribe frames, checksum book rules, resubscribe for a snapshot); builders in
kraken.parse, REST in kraken.rest."""

from __future__ import annotations

from collections.abc import Callable
from decimal import InvalidOperation

import msgspec

from mdc.errors import ConfigError
from mdc.events import Event
from mdc.sync import BookSync, ChecksumRules, NeedSnapshot
from mdc.venues.base import (
    Control,
    Heartbeat,
    Outgoing,
    SendText,
    SessionConfig,
    Venue,
)  # fmt: skip
from mdc.venues.contract import Capabilities
from mdc.venues.decimals import DecimalTexts, TextDecoder
from mdc.venues.kraken.book_checksum import Checksum
from mdc.venues.kraken.parse import NAME, KrakenBuilders, _built, _Invalid, _v1_channel
from mdc.venues.kraken.rest import KrakenRest
from mdc.venues.kraken.wire import (
    Bare,
    Envelope,
    RestDepth,
    RestTrades,
    V1Book,
    V1Spread,
    V1Ticker,
    V1Trade,
    V2Book,
    V2Status,
    V2Ticker,
    V2Trade,
    v2_message,
)

DEFAULT_DEPTH = 10
DEPTHS = (10, 25, 100, 500, 1000)


checksum = Checksum()
"""Kraken's CRC32 of a book (see kraken.book_checksum); each connection's venue object has its
own."""


class Kraken(KrakenBuilders, KrakenRest, Venue):
    name = NAME
    display_name = "Kraken"
    # CRC32 of the top levels after every book message (ChecksumRules); REST history takes a
    # time cursor (`since`) and only filters by id. No bars.
    capabilities = Capabilities(
        streams=("trades", "quotes", "book"),
        book_integrity="checksum",
        backfill="time",
        auth=False,
    )
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

    def _decode_v1(self, data: bytes, ts_recv: int) -> list[Event | Control]:
        """Route by the channel name peeked from the message's tail, then decode in one pass."""
        channel = _v1_channel(data)
        kind, _, param = channel.partition("-")
        route = self._v1.get(kind)
        if route is None:
            raise self.malformed(f"unknown v1 channel {channel!r}", data)
        decoder, build = route
        return _built(decoder, self._v1_payloads, data, kind, build, param, ts_recv)

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


def v2_pair(symbol: str) -> str:
    """'BTC-USD' -> 'BTC/USD'."""
    return symbol.upper().replace("-", "/")
