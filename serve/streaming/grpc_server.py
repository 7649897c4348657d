"""`mdc.v1.MarketDataService` on grpc.aio: a thin shell around the hub and the store.

Streams are server-side filtered by stream name (`Subscription.wants`) and sent as pre-encoded
`EventBatch` bytes (the handlers' responses are serialized already: `encode.batch_bytes`), with
several events per message at high rates. The first message of every subscription has no
events: its position is where the subscription starts (a client that must resume before any
event arrived uses it). Auth is checked before anything else, by the same key ring as the HTTP
API; health (`grpc.health.v1`) and reflection are open. A bad request is answered with
INVALID_ARGUMENT or OUT_OF_RANGE naming the field, never with a crash or a stall. The same
server carries `mdc.v1.ReplicationService` (serve/replication/server.py), over the same hub's
durable tails and with the same keys: followers in other regions copy the log from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass
from functools import partial
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from mdc.distribution import encode
from mdc.distribution.subscription import (
    BadSubscription,
    FromPosition,
    FromTime,
    Kind,
    Live,
    Policy,
    Start,
    Subscription,
    parse_position,
    subscription,
)
from mdc.errors import CollectorError
from mdc.store.errors import StoreNotFound
from mdc.v1 import market_data_pb2 as pb
from serve.auth import AuthResult, KeyRing, presented_key
from serve.replication.server import SERVICE as REPLICATION
from serve.replication.server import ReplicationService
from serve.streaming.hub import OUTBOX_CAPACITY, Hub, TailSource
from serve.streaming.store_calls import StoreCalls

log = logging.getLogger(__name__)

SERVICE = "mdc.v1.MarketDataService"
MAX_BATCH_EVENTS = 256
"""Events per streamed message at most: several per message at high rates, one when idle."""
MAX_CONCURRENT_RPCS = 1024
KEEPALIVE = [
    ("grpc.keepalive_time_ms", 20_000),  # ping an idle client: a dead peer is found and freed
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
]
_AUTH_CODES = {
    AuthResult.MISSING: grpc.StatusCode.UNAUTHENTICATED,
    AuthResult.WRONG: grpc.StatusCode.PERMISSION_DENIED,
}


@dataclass(frozen=True)
class Bound:
    host: str
    port: int

    @property
    def target(self) -> str:
        return f"{self.host}:{self.port}"


def _start(message: pb.Start) -> Start:
    which = message.WhichOneof("from")
    if which == "time_ns":
        return FromTime(message.time_ns)
    if which == "position":
        return FromPosition(parse_position(message.position))
    return Live()


def _policy(value: int) -> Policy | None:
    if value == 0:
        return None
    try:
        return Policy(value)
    except ValueError:
        raise BadSubscription("policy", f"no slow-consumer policy {value}") from None


def _cut(context, feed, cutting: list[asyncio.Task], why: str) -> None:
    """End a stream whose subscriber fell too far behind (DISCONNECT): RESOURCE_EXHAUSTED with
    the position to resume from. Called from the hub too, while the stream's own sender may be
    stuck in a write to a client that does not read: the status waits for nothing but the
    messages already in flight, so it is sent from a task of its own."""
    message = f"{why}; position {feed.outbox.position.token()}"

    async def abort() -> None:
        with contextlib.suppress(grpc.aio.AbortError, grpc.aio.UsageError):
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, message)

    cutting.append(asyncio.ensure_future(abort()))


class MarketDataService:
    """The RPCs. A request may name the configured `venues` and any venue the log holds."""

    def __init__(
        self, hub: Hub, store: StoreCalls, keys: KeyRing, venues: Collection[str] = ()
    ) -> None:
        self._hub = hub
        self._store = store
        self._keys = keys
        self._venues = frozenset(venues)

    def _subscription(self, kind: Kind, request: Any, **extra: int) -> Subscription:
        return subscription(
            kind,
            venues=request.venues,
            symbols=request.symbols,
            start=_start(request.start),
            policy=_policy(request.policy),
            known_venues=self._venues | self._hub.venues(),
            **extra,
        )

    async def subscribe_trades(self, request: pb.SubscribeRequest, context) -> AsyncIterator[bytes]:
        async for message in self._stream(
            context, lambda: self._subscription(Kind.TRADES, request)
        ):
            yield message

    async def subscribe_quotes(self, request: pb.SubscribeRequest, context) -> AsyncIterator[bytes]:
        async for message in self._stream(
            context, lambda: self._subscription(Kind.QUOTES, request)
        ):
            yield message

    async def subscribe_events(self, request: pb.SubscribeRequest, context) -> AsyncIterator[bytes]:
        async for message in self._stream(
            context, lambda: self._subscription(Kind.EVENTS, request)
        ):
            yield message

    async def subscribe_depth(self, request: pb.DepthRequest, context) -> AsyncIterator[bytes]:
        def build() -> Subscription:
            return self._subscription(
                Kind.DEPTH, request, levels=request.levels, conflate_ms=request.conflate_ms
            )

        async for message in self._stream(context, build):
            yield message

    async def subscribe_bars(self, request: pb.BarsRequest, context) -> AsyncIterator[bytes]:
        def build() -> Subscription:
            return self._subscription(Kind.BARS, request, interval_s=request.interval_s)

        async for message in self._stream(context, build):
            yield message

    async def _stream(self, context, build: Callable[[], Subscription]) -> AsyncIterator[bytes]:
        await self.authorize(context)
        try:
            sub = build()
            async with self._hub.attach(sub) as feed:
                cutting: list[asyncio.Task] = []
                feed.cut = partial(_cut, context, feed, cutting)
                yield encode.batch_bytes((), feed.outbox.position.token())
                while True:
                    if feed.error is not None:
                        await context.abort(
                            grpc.StatusCode.INTERNAL, f"replay failed: {feed.error}"
                        )
                    if feed.outbox.overflow is not None:
                        if not cutting:
                            _cut(context, feed, cutting, feed.outbox.overflow)
                        await cutting[0]
                        return
                    taken = feed.take(MAX_BATCH_EVENTS)
                    if taken is None:
                        feed.wake.clear()
                        await feed.wake.wait()
                        continue
                    entries, position = taken
                    yield encode.batch_bytes(entries, position.token())
        except BadSubscription as exc:
            code = (
                grpc.StatusCode.OUT_OF_RANGE
                if exc.out_of_range
                else grpc.StatusCode.INVALID_ARGUMENT
            )
            await context.abort(code, str(exc))

    async def get_historical_bars(
        self, request: pb.HistoricalBarsRequest, context
    ) -> AsyncIterator[bytes]:
        await self.authorize(context)
        try:
            chunks = await self._store.bars(request)
        except BadSubscription as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except StoreNotFound as exc:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
        for chunk in chunks:
            yield chunk

    async def get_book(self, request: pb.BookRequest, context) -> pb.Book:
        await self.authorize(context)
        try:
            return await self._store.book(request)
        except BadSubscription as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except StoreNotFound as exc:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
        raise AssertionError("abort raises")

    async def authorize(self, context) -> None:
        metadata = dict(context.invocation_metadata())
        result = self._keys.check(
            presented_key(metadata.get("x-api-key"), metadata.get("authorization"))
        )
        if result is not AuthResult.OK:
            await context.abort(_AUTH_CODES[result], result.message)

    def handler(self) -> grpc.GenericRpcHandler:
        streams = {
            "SubscribeTrades": (self.subscribe_trades, pb.SubscribeRequest),
            "SubscribeQuotes": (self.subscribe_quotes, pb.SubscribeRequest),
            "SubscribeDepth": (self.subscribe_depth, pb.DepthRequest),
            "SubscribeBars": (self.subscribe_bars, pb.BarsRequest),
            "SubscribeEvents": (self.subscribe_events, pb.SubscribeRequest),
            "GetHistoricalBars": (self.get_historical_bars, pb.HistoricalBarsRequest),
        }
        methods = {
            name: grpc.unary_stream_rpc_method_handler(
                behavior,
                request_deserializer=request.FromString,  # responses are bytes already
            )
            for name, (behavior, request) in streams.items()
        }
        methods["GetBook"] = grpc.unary_unary_rpc_method_handler(
            self.get_book,
            request_deserializer=pb.BookRequest.FromString,
            response_serializer=pb.Book.SerializeToString,
        )
        return grpc.method_handlers_generic_handler(SERVICE, methods)


class StreamServer:
    """The grpc.aio server: the service, health and reflection, on `host:port`."""

    def __init__(self, service: MarketDataService, replication: ReplicationService) -> None:
        self._service = service
        self._replication = replication
        self._server: grpc.aio.Server | None = None
        self._health = health.aio.HealthServicer()

    async def start(self, host: str, port: int) -> Bound:
        server = grpc.aio.server(maximum_concurrent_rpcs=MAX_CONCURRENT_RPCS, options=KEEPALIVE)
        server.add_generic_rpc_handlers((self._service.handler(), self._replication.handler()))
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        names = (
            SERVICE,
            REPLICATION,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        )
        reflection.enable_server_reflection(names, server)
        try:
            bound = server.add_insecure_port(f"{host}:{port}")
        except RuntimeError as exc:
            raise CollectorError(f"gRPC: cannot listen on {host}:{port}: {exc}") from exc
        if bound == 0:
            raise CollectorError(f"gRPC: cannot listen on {host}:{port} (in use?)")
        await server.start()
        await self._health.set(SERVICE, health_pb2.HealthCheckResponse.SERVING)
        self._server = server
        return Bound(host, bound)

    async def stop(self, grace_s: float = 1.0) -> None:
        if self._server is not None:
            await self._health.enter_graceful_shutdown()
            await self._server.stop(grace_s)
            self._server = None


class MarketDataServer:
    """Everything one server needs: the hub following the log (its tails from `tails`), the
    service over it and the store, and the grpc.aio server."""

    def __init__(
        self,
        data_dir: str,
        tails: TailSource,
        keys: KeyRing,
        venues: Collection[str] = (),
        capacity: int = OUTBOX_CAPACITY,
    ) -> None:
        self.hub = Hub(data_dir, tails, capacity)
        service = MarketDataService(self.hub, StoreCalls(data_dir), keys, venues)
        replication = ReplicationService(data_dir, self.hub, service.authorize)
        self._server = StreamServer(service, replication)
        self._follower: asyncio.Task | None = None

    async def start(self, host: str, port: int) -> Bound:
        await self.hub.start()
        bound = await self._server.start(host, port)
        self._follower = asyncio.create_task(self.hub.run())
        return bound

    async def stop(self, grace_s: float = 1.0) -> None:
        if self._follower is not None:
            self._follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follower
        await self._server.stop(grace_s)
