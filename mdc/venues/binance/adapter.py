"""The Binance venue: routing of websocket frames to their decoder and builder, and the session
rules (combined-stream path, update-id book rules); builders in binance.parse, REST in
binance.rest."""

from __future__ import annotations

from collections.abc import Callable
from decimal import InvalidOperation

import msgspec

from mdc.events import Event
from mdc.sync import SequenceRules
from mdc.venues.base import (
    Control,
    SessionConfig,
    Subscribed,
    Venue,
    VenueError,
)
from mdc.venues.binance.parse import NAME, BinanceBuilders, _stream_kind, wire_symbol
from mdc.venues.binance.rest import BinanceRest
from mdc.venues.binance.wire import (
    _STREAM_PREFIX,
    _AggTrade,
    _BookTicker,
    _Depth,
    _DepthSnapshot,
    _Envelope,
    _ErrorBody,
    _frame_of,
    _HistoricalTrade,
    _KlineEvent,
    _RestAggTrade,
    _Trade,
)
from mdc.venues.contract import Capabilities
from mdc.venues.decimals import DecimalTexts, TextDecoder


class Binance(BinanceBuilders, BinanceRest, Venue):
    name = NAME
    display_name = "Binance"
    # Diff-depth U/u ids on every book event (SequenceRules); REST history by fromId.
    capabilities = Capabilities(
        streams=("trades", "quotes", "book", "bars"),
        book_integrity="update_ids",
        backfill="id",
        auth=False,
    )
    default_ws_url = "wss://stream.binance.com:9443"
    default_rest_url = "https://api.binance.com"
    default_channels = ("trade", "depth@100ms", "bookTicker")
    consecutive_trade_ids = True

    def __init__(self) -> None:
        self._envelope = msgspec.json.Decoder(_Envelope)
        self._payloads = {
            "trade": (TextDecoder(_Trade), self._trade),
            "aggTrade": (TextDecoder(_AggTrade), self._agg_trade),
            "depthUpdate": (TextDecoder(_Depth), self._depth),
            "bookTicker": (TextDecoder(_BookTicker), self._book_ticker),
            "kline": (TextDecoder(_KlineEvent), self._kline),
        }
        self._framed = {
            kind: (TextDecoder(_frame_of(decoder.type)), build)
            for kind, (decoder, build) in self._payloads.items()
        }
        self._by_stream: dict[bytes, tuple[Callable, Callable]] = {}
        self._dec = DecimalTexts()
        self._snapshot = msgspec.json.Decoder(_DepthSnapshot)
        self._history = msgspec.json.Decoder(list[_HistoricalTrade])
        self._rest_agg = msgspec.json.Decoder(list[_RestAggTrade])
        self._symbols: dict[str, str] = {}

    # -- websocket -------------------------------------------------------------------------

    def decode(self, data: bytes, ts_recv: int) -> list[Event | Control]:
        """Hot path: a combined-stream frame decodes in one pass (frame and payload together),
        routed by peeking at its stream name; anything that fails there takes the general path,
        which decodes the envelope first and the payload second."""
        if data.startswith(b'{"stream":"'):
            route = self._by_stream.get(data[11 : data.find(b'"', 11)]) or self._learn(data)
            if route is not None:
                try:
                    return route[1](route[0](data).data, ts_recv)
                except (msgspec.DecodeError, InvalidOperation):
                    pass
        try:
            env = self._envelope.decode(data)
            if env.data:
                kind = _stream_kind(env.stream or "")
                return self._payload(kind, env.data, ts_recv)
            if env.e is not None or env.u is not None:
                return self._payload(env.e or "bookTicker", data, ts_recv)
        except (msgspec.DecodeError, KeyError) as exc:
            raise self.malformed(str(exc), data) from exc
        return self._control(env, data)

    def _learn(self, data: bytes) -> tuple[Callable, Callable] | None:
        """The one-pass route for a stream name not seen before (remembered, bounded)."""
        stream = data[len(_STREAM_PREFIX) : data.find(b'"', len(_STREAM_PREFIX))]
        framed = self._framed.get(_stream_kind(stream.decode()))
        if framed is None:
            return None
        route = (framed[0].fast, framed[1])
        if len(self._by_stream) < 10_000:
            self._by_stream[stream] = route
        return route

    def _payload(self, kind: str, raw: bytes | msgspec.Raw, ts_recv: int) -> list[Event]:
        if kind not in self._payloads:
            raise KeyError(f"unsupported stream or event type {kind!r}")
        decoder, build = self._payloads[kind]
        try:
            return build(decoder.decode(raw), ts_recv)
        except InvalidOperation:  # a bad decimal text: the strict decoder names it
            return build(decoder.strict(raw), ts_recv)

    def _control(self, env: _Envelope, data: bytes) -> list[Event | Control]:
        if env.code is not None or env.error:
            err = (
                msgspec.json.decode(env.error, type=_ErrorBody)
                if env.error
                else _ErrorBody(env.code or 0, env.msg or "")
            )
            return [VenueError(err.code, err.msg, permanent=False)]
        if env.id is not None:
            return [Subscribed(f"request {env.id} acknowledged")]
        raise self.malformed("neither a stream payload, an ack nor an error", data)

    # -- session ---------------------------------------------------------------------------

    def ws_path(self, config: SessionConfig) -> str:
        channels = config.channels or self.default_channels
        streams = [f"{wire_symbol(s).lower()}@{c}" for s in config.symbols for c in channels]
        return "/stream?streams=" + "/".join(streams)

    def book_rules(self, config: SessionConfig) -> SequenceRules:
        return SequenceRules()
