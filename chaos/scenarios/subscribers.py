"""Live subscribers through the faults: a gRPC market data server follows the writer's log, one
subscriber takes every trade from the first stored event on, another the depth of every book;
half way through the server is restarted and both resume from their last positions (as a client
of a restarted `mdc run` would). Judged afterwards against the store: every trade once and in
stored order, and every book's views in stored order."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from dataclasses import dataclass, field

from actors.supervisor import Supervisor
from mdc.client import AsyncMarketDataClient, Received
from mdc.events import identity
from mdc.store import Store
from mdc.store.streams import Stream
from serve.auth import KeyRing
from serve.deployment import free_port
from serve.streaming.grpc_server import MarketDataServer
from serve.streaming.tails import WriterTails

RESTART_AT_FRACTION = 0.5


@dataclass
class SubscribersUnderFaults:
    data_dir: str
    supervisor: Supervisor
    trades: list[Received] = field(default_factory=list)
    depth: list[Received] = field(default_factory=list)
    restarts: int = 0
    _key: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    _port: int = field(default_factory=free_port)
    _server: MarketDataServer | None = None
    _tasks: list[asyncio.Task] = field(default_factory=list)

    @property
    def port(self) -> int:
        return self._port

    @property
    def key(self) -> str:
        return self._key

    async def __aenter__(self) -> SubscribersUnderFaults:
        await self._start_server()
        target = f"127.0.0.1:{self._port}"
        self._client = AsyncMarketDataClient(target, api_key=self._key)
        self._tasks = [
            asyncio.create_task(self._read("trades", self.trades, start=0)),
            asyncio.create_task(self._read("depth", self.depth, levels=5)),
        ]
        return self

    async def _start_server(self) -> None:
        tails = WriterTails(lambda: self.supervisor.writer)
        self._server = MarketDataServer(self.data_dir, tails, KeyRing([self._key]))
        await self._server.start("127.0.0.1", self._port)

    async def _read(self, kind: str, into: list[Received], **params) -> None:
        async for got in self._client.subscribe(kind, **params):  # reconnects and resumes
            into.append(got)

    async def restart_midway(self, phase_started: float, duration_s: float) -> None:
        """Stop the server and start a new one on the same port, half way through."""
        at = phase_started + duration_s * RESTART_AT_FRACTION
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        assert self._server is not None
        await self._server.stop(grace_s=0)
        await self._start_server()
        self.restarts += 1

    async def __aexit__(self, *exc: object) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._client.close()
        if self._server is not None:
            await self._server.stop(grace_s=0)

    def received_trades(self) -> dict[Stream, list[bytes]]:
        out: dict[Stream, list[bytes]] = {}
        for got in self.trades:
            out.setdefault(Stream.from_dirname(got.stream), []).append(identity(got.event))
        return out

    def depth_seqs(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for got in self.depth:
            out.setdefault(got.stream, []).append(got.seq)
        return out


def stored_trades(data_dir: str) -> dict[Stream, list[bytes]]:
    with Store.open(data_dir, readonly=True) as store:
        return {
            s: [identity(e) for _, e in store.wal.read_events(s)]
            for s in store.wal.streams()
            if s.family == "trades"
        }
