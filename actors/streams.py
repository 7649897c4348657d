"""The gRPC market data server beside a running collector: an actor that owns the grpc.aio
server and the hub following the writer's log. Like the prediction API, it is optional: failing
to start it is reported and collection goes on."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

import ray

from actors.supervisor import Supervisor
from mdc.errors import CollectorError
from serve.auth import KeyRing
from serve.streaming.grpc_server import MarketDataServer
from serve.streaming.tails import WriterTails


@dataclass(frozen=True)
class GrpcSettings:
    """`mdc run --grpc-host/--grpc-port`."""

    host: str = "127.0.0.1"
    port: int = 50051


@ray.remote(num_cpus=0, max_restarts=0)
class StreamServerActor:
    """Subscribers are followers of the durable log: the writer tells this actor how far the
    log is durable (a long poll), the hub reads the log files from there."""

    def __init__(self, data_dir: str, writer: object, keys: KeyRing, venues: list[str]) -> None:
        self._writer = writer
        tails = WriterTails(lambda: self._writer)
        self._server = MarketDataServer(data_dir, tails, keys, venues)

    async def start(self, host: str, port: int) -> str:
        return (await self._server.start(host, port)).target

    async def set_writer(self, writer: object) -> None:
        """The supervisor restarted the writer: follow the new one."""
        self._writer = writer

    async def stats(self) -> dict:
        hub = self._server.hub
        return {"delivered": hub.delivered, "subscribers": hub.subscribers}

    async def stop(self) -> None:
        await self._server.stop()


@contextlib.asynccontextmanager
async def market_data_server(
    data_dir: str, supervisor: Supervisor, keys: KeyRing, settings: GrpcSettings, venues: list[str]
) -> AsyncIterator[str | None]:
    """The gRPC server while the block runs; yields its address, or None if it did not start."""
    actor = StreamServerActor.remote(data_dir, supervisor.writer, keys, venues)
    try:
        target = await actor.start.remote(settings.host, settings.port)
    except (CollectorError, ray.exceptions.RayError) as exc:
        print(
            f"mdc run: gRPC market data not started: {_cause(exc)}; collecting without it "
            "(choose --grpc-port, or --no-grpc)",
            file=sys.stderr,
        )
        ray.kill(actor)
        yield None
        return

    async def follow_writer(writer: object) -> None:
        await actor.set_writer.remote(writer)

    supervisor.on_writer.append(follow_writer)
    print(
        f"mdc run: gRPC market data on {target} (mdc.v1.MarketDataService; "
        "try: mdc subscribe --types trades)",
        file=sys.stderr,
    )
    try:
        yield target
    finally:
        supervisor.on_writer.remove(follow_writer)
        with contextlib.suppress(ray.exceptions.RayError):
            await actor.stop.remote()
        ray.kill(actor)


def _cause(exc: BaseException) -> str:
    """The actor's own error, not Ray's wrapping of it."""
    cause = getattr(exc, "cause", None)
    return str(cause if cause is not None else exc)
