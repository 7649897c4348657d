"""Python client of mdc's gRPC market data (`proto/mdc/v1/market_data.proto`), sync and async.

    from mdc.client import MarketDataClient
    with MarketDataClient("127.0.0.1:50051", api_key="...") as client:
        for got in client.subscribe("trades", symbols=["BTC-*"]):
            print(got.event.price, got.position)

Each received event comes with `position`: the resume token right after it. A subscription
reconnects by itself when the server goes away or cuts it off as too slow (UNAVAILABLE,
RESOURCE_EXHAUSTED, ...) and resumes from the last position it handed out, so the events it
yields have no gap and no duplicate; errors that a retry cannot fix (a bad key, a bad request)
raise `SubscriptionError` with the server's status and message. `AsyncMarketDataClient` is the
same on asyncio.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import grpc

from mdc.backoff import Backoff
from mdc.distribution.encode import from_proto
from mdc.errors import CollectorError
from mdc.events import Event
from mdc.store.follow import Position
from mdc.store.replay import BadArgument, parse_time
from mdc.store.streams import Stream
from mdc.v1 import market_data_pb2 as pb
from mdc.v1 import market_data_pb2_grpc as pb_grpc

DEFAULT_TARGET = "127.0.0.1:50051"
API_KEY_ENV = "MDC_API_KEY"
KINDS = ("trades", "quotes", "depth", "bars", "events")
RETRYABLE = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.CANCELLED,
    grpc.StatusCode.DEADLINE_EXCEEDED,
}
RECONNECT = Backoff(0.1, 5.0, floor=0.5)
_METHODS = {
    "trades": "SubscribeTrades",
    "quotes": "SubscribeQuotes",
    "depth": "SubscribeDepth",
    "bars": "SubscribeBars",
    "events": "SubscribeEvents",
}
_POLICIES = {"conflate": 1, "drop_with_gap": 2, "disconnect": 3}
POLICIES = tuple(_POLICIES)
_TOKEN = re.compile(r"[A-Za-z0-9_-]+")


class SubscriptionError(CollectorError):
    """The server refused the call for a reason a retry cannot fix."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details


class Received(NamedTuple):
    """An event; `position` resumes right after it; `stream` and `seq` say where it is stored
    (for depth and bars: the stored event it was made from; "" and 0 for historical bars)."""

    event: Event
    position: str
    stream: str = ""
    seq: int = 0


@dataclass
class Request:
    """A subscription's parameters, independent of the transport's message types."""

    kind: str = "trades"
    venues: Sequence[str] = ()
    symbols: Sequence[str] = ()
    start: int | str | None = None  # None/"live", a time in ns, or a position token
    policy: str | None = None  # conflate, drop_with_gap, disconnect (None: the stream's default)
    levels: int = 10
    conflate_ms: int = 0
    interval_s: int = 60

    def message(self, resume: str | None) -> Any:
        """The request message, starting at `resume` (a position) when reconnecting."""
        if self.kind not in _METHODS:
            raise ValueError(f"kind {self.kind!r}: one of {', '.join(KINDS)}")
        start = _start(resume if resume is not None else self.start)
        common: dict[str, Any] = {
            "venues": list(self.venues),
            "symbols": list(self.symbols),
            "start": start,
            "policy": _POLICIES[self.policy] if self.policy else 0,
        }
        if self.kind == "depth":
            return pb.DepthRequest(**common, levels=self.levels, conflate_ms=self.conflate_ms)
        if self.kind == "bars":
            return pb.BarsRequest(**common, interval_s=self.interval_s)
        return pb.SubscribeRequest(**common)


def _start(start: int | str | None) -> pb.Start:
    if start is None or start == "live":
        return pb.Start(live=True)
    if isinstance(start, int):
        return pb.Start(time_ns=start)
    return pb.Start(position=start)


@dataclass
class _Tracker:
    """Per-event resume tokens: the subscription's position, moved past each event."""

    seqs: dict[Stream, int] | None = None
    last: str | None = None
    streams: dict[str, Stream] = field(default_factory=dict)

    def batch(self, batch: pb.EventBatch) -> Iterator[Received]:
        if self.seqs is None:  # the first message: where the subscription starts
            self.seqs = _seqs(batch.position)
            self.last = batch.position
        for message in batch.events:
            if message.stream:
                stream = self.streams.get(message.stream)
                if stream is None:
                    stream = self.streams[message.stream] = Stream.from_dirname(message.stream)
                self.seqs[stream] = message.seq + 1
                self.last = Position.of(self.seqs).token()
            yield Received(from_proto(message), self.last or "", message.stream, message.seq)
        if batch.position:
            self.seqs = _seqs(batch.position)
            self.last = batch.position

    def resume(self) -> str | None:
        """Where to start again: after the last event handed out (None: as first asked)."""
        return self.last


def _seqs(token: str) -> dict[Stream, int]:
    return Position.from_token(token).as_dict() if token else {}


def serving(target: str, timeout_s: float = 3.0) -> bool:
    """Whether `target`'s health service says the market data service is SERVING."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: PLC0415 - rarely needed

    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        ask = health_pb2.HealthCheckRequest(service="mdc.v1.MarketDataService")
        try:
            answer = stub.Check(ask, timeout=timeout_s)
        except grpc.RpcError:
            return False
    return answer.status == health_pb2.HealthCheckResponse.SERVING


def start_from_text(text: str) -> int | str | None:
    """A start as users write it: `live` -> None; a time (RFC 3339, a date, ns) -> ns; else a
    position token (the server checks it)."""
    if text == "live":
        return None
    try:
        return parse_time(text)
    except BadArgument:
        if _TOKEN.fullmatch(text):
            return text
        raise BadArgument(
            f"start {text!r}: use live, a time (2024-01-15T10:30:00Z, a date or ns) or a "
            "position token from an earlier event"
        ) from None


def api_key_or_default(explicit: str | None = None) -> str | None:
    """`explicit`, else $MDC_API_KEY, else the key `mdc run` made in $MDC_DATA_DIR/api-key."""
    if explicit:
        return explicit
    if os.environ.get(API_KEY_ENV):
        return os.environ[API_KEY_ENV]
    path = os.path.join(os.environ.get("MDC_DATA_DIR", "data"), "api-key")
    try:
        with open(path) as f:
            return f.read().strip() or None
    except OSError:
        return None


def _refused(error: grpc.RpcError) -> SubscriptionError | None:
    """The error to raise, or None when reconnecting may help."""
    code = error.code()  # type: ignore[attr-defined]
    if code in RETRYABLE:
        return None
    return SubscriptionError(code, error.details() or "")  # type: ignore[attr-defined]


@dataclass
class _Options:
    target: str
    key: str | None
    max_reconnects: int | None
    rng: random.Random = field(default_factory=random.Random)

    @property
    def metadata(self) -> list[tuple[str, str]]:
        return [("x-api-key", self.key)] if self.key else []


@dataclass
class _Session:
    """One subscription across reconnects: what to ask for next, and what a failure means."""

    options: _Options
    request: Request
    tracker: _Tracker = field(default_factory=_Tracker)
    attempt: int = 0

    def call(self, stub: pb_grpc.MarketDataServiceStub) -> Any:
        method = getattr(stub, _METHODS[self.request.kind])
        return method(self.request.message(self.tracker.resume()), metadata=self.options.metadata)

    def received(self, batch: pb.EventBatch) -> Iterator[Received]:
        self.attempt = 0
        return self.tracker.batch(batch)

    def failed(self, error: grpc.RpcError) -> float:
        """The pause before reconnecting; raises when a retry cannot help or the reconnects
        allowed in a row are used up."""
        refused = _refused(error)
        if refused is not None:
            raise refused from None
        if self.options.max_reconnects is not None and self.attempt >= self.options.max_reconnects:
            details = f"gave up after {self.attempt} reconnects: {error.details()}"  # type: ignore[attr-defined]
            raise SubscriptionError(error.code(), details) from None  # type: ignore[attr-defined]
        self.attempt += 1
        return RECONNECT.delay(self.attempt - 1, self.options.rng)


def _unary_error(error: grpc.RpcError) -> SubscriptionError:
    return SubscriptionError(error.code(), error.details() or "")  # type: ignore[attr-defined]


class _Client:
    """A channel to `target` with the key and reconnect limit (`max_reconnects` None:
    reconnect for ever)."""

    _open_channel: Any = staticmethod(grpc.insecure_channel)

    def __init__(
        self,
        target: str = DEFAULT_TARGET,
        api_key: str | None = None,
        max_reconnects: int | None = None,
    ) -> None:
        self._options = _Options(target, api_key_or_default(api_key), max_reconnects)
        self._channel = self._open_channel(target)
        self._stub = pb_grpc.MarketDataServiceStub(self._channel)


class MarketDataClient(_Client):
    """Blocking client."""

    def subscribe(self, kind: str = "trades", **params: Any) -> Iterator[Received]:
        session = _Session(self._options, Request(kind, **params))
        while True:
            try:
                for batch in session.call(self._stub):
                    yield from session.received(batch)
                return
            except grpc.RpcError as error:
                time.sleep(session.failed(error))

    def historical_bars(
        self, venue: str, symbol: str, interval_s: int = 60, start_ns: int = 0, end_ns: int = 0
    ) -> Iterator[Event]:
        request = pb.HistoricalBarsRequest(
            venue=venue, symbol=symbol, interval_s=interval_s, start_ns=start_ns, end_ns=end_ns
        )
        try:
            for batch in self._stub.GetHistoricalBars(request, metadata=self._options.metadata):
                yield from (from_proto(m) for m in batch.events)
        except grpc.RpcError as error:
            raise _unary_error(error) from None

    def book(self, venue: str, symbol: str, at_ns: int = 0, depth: int = 10) -> pb.Book:
        request = pb.BookRequest(venue=venue, symbol=symbol, at_ns=at_ns, depth=depth)
        try:
            return self._stub.GetBook(request, metadata=self._options.metadata)
        except grpc.RpcError as error:
            raise _unary_error(error) from None

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> MarketDataClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncMarketDataClient(_Client):
    """The same on asyncio."""

    _open_channel = staticmethod(grpc.aio.insecure_channel)

    async def subscribe(self, kind: str = "trades", **params: Any) -> AsyncIterator[Received]:
        session = _Session(self._options, Request(kind, **params))
        while True:
            try:
                async for batch in session.call(self._stub):
                    for got in session.received(batch):
                        yield got
                return
            except grpc.RpcError as error:
                await asyncio.sleep(session.failed(error))

    async def close(self) -> None:
        await self._channel.close()

    async def __aenter__(self) -> AsyncMarketDataClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
