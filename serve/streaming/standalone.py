"""The gRPC market data server on its own event loop thread, for a process that is not an
actor (`mdc serve`, tests, benchmarks): start it, read `target`, `stop()` it."""

from __future__ import annotations

import asyncio
import threading

from serve.streaming.grpc_server import MarketDataServer

START_TIMEOUT_S = 30.0


class ServerThread:
    """Runs a `MarketDataServer` on a daemon thread's event loop."""

    def __init__(self, server: MarketDataServer) -> None:
        self.server = server
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.target = ""

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen (port 0: any free one); returns HOST:PORT."""
        self._thread.start()
        started = asyncio.run_coroutine_threadsafe(self.server.start(host, port), self._loop)
        self.target = started.result(START_TIMEOUT_S).target
        return self.target

    def stop(self, grace_s: float = 0.5) -> None:
        if self._thread.is_alive():
            stopped = asyncio.run_coroutine_threadsafe(self._stop(grace_s), self._loop)
            stopped.result(START_TIMEOUT_S)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(START_TIMEOUT_S)
            self._loop.close()

    async def _stop(self, grace_s: float) -> None:
        """Stop the server, then let the calls it cancelled finish (a loop stopped with them
        pending leaves "Task was destroyed but it is pending" on stderr)."""
        await self.server.stop(grace_s)
        pending = asyncio.all_tasks() - {asyncio.current_task()}
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=grace_s + 1.0)

    def __enter__(self) -> ServerThread:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
