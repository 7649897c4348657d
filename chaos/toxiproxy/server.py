"""The embeddable server: `ToxiproxyServer` in a loop, or `start_in_thread()` from sync code."""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time
from collections.abc import Coroutine, Mapping
from typing import Any, TypeVar

from aiohttp import web

from chaos.toxiproxy.api import build_app
from chaos.toxiproxy.errors import ListenFailed
from chaos.toxiproxy.link import Clock
from chaos.toxiproxy.model import join_host_port
from chaos.toxiproxy.proxies import ProxySet
from chaos.toxiproxy.proxy import Proxy
from chaos.toxiproxy.toxics import load_toxics
from chaos.toxiproxy.toxics.base import Toxic

DEFAULT_PORT = 8474
THREAD_START_TIMEOUT_S = 30.0
T = TypeVar("T")


class ToxiproxyServer:
    """The API plus its proxies. `seed` makes every toxicity roll and jitter reproducible."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        seed: int | None = None,
        *,
        toxics: Mapping[str, type[Toxic]] | None = None,
        clock: Clock = time.monotonic_ns,
    ) -> None:
        self.host, self.port = host, port
        registry = load_toxics() if toxics is None else toxics
        self.proxies = ProxySet(registry, random.Random(seed), clock)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{join_host_port(self.host, self.port)}"

    async def start(self) -> tuple[str, int]:
        """Serve the API; returns the real (host, port) (port 0 picks a free one)."""
        runner = web.AppRunner(build_app(self.proxies), access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except OSError as exc:
            await runner.cleanup()
            reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
            where = join_host_port(self.host, self.port)
            raise ListenFailed(f"cannot serve the Toxiproxy API on {where}: {reason}") from None
        self._runner = runner
        self.host, self.port = runner.addresses[0][:2]
        return self.host, self.port

    async def populate(self, items: list[Any]) -> list[Proxy]:
        """Load proxies as `/populate` (and Toxiproxy's `-config`) do."""
        return await self.proxies.populate(items)

    async def stop(self) -> None:
        """Close every proxy and connection, then the API."""
        await self.proxies.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


class ServerThread:
    """A `ToxiproxyServer` running on its own event loop in a daemon thread."""

    def __init__(self, server: ToxiproxyServer) -> None:
        self.server = server
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="toxiproxy", daemon=True
        )

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    def start(self) -> ServerThread:
        self._thread.start()
        try:
            self.call(self.server.start())
        except BaseException:
            self._halt()
            raise
        return self

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = THREAD_START_TIMEOUT_S) -> T:
        """Run `coro` on the server's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def stop(self) -> None:
        if self._thread.is_alive():
            try:
                self.call(self.server.stop())
            finally:
                self._halt()

    def _halt(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        leftovers = asyncio.all_tasks(self._loop)
        for task in leftovers:
            task.cancel()
        if leftovers:
            self._loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
        self._loop.close()

    def __enter__(self) -> ServerThread:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_in_thread(
    host: str = "127.0.0.1", port: int = 0, seed: int | None = None
) -> ServerThread:
    """Start a server in a background thread (port 0: a free port); `.url`, `.stop()`."""
    return ServerThread(ToxiproxyServer(host, port, seed)).start()
