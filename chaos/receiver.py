"""A local stand-in for the HTTP services alerts are sent to: a loopback server that records every
request and answers from a script (429 with Retry-After, 500, 400, a slow reply). The chaos
scenarios send their alerts to it; the tests use it for every HTTP channel."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field

from aiohttp import web


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: str = "ok"
    headers: tuple[tuple[str, str], ...] = ()
    delay_s: float = 0.0


@dataclass
class Captured:
    method: str
    path_qs: str
    headers: dict[str, str]
    body: bytes
    at: float  # monotonic, for intervals
    at_ns: int  # wall clock, to compare with event times


@dataclass
class CaptureServer:
    """Answers the scripted replies in order, then `default`; records what came."""

    default: Reply = field(default_factory=Reply)
    script: deque[Reply] = field(default_factory=deque)
    requests: list[Captured] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def __aenter__(self) -> CaptureServer:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append(
            Captured(
                request.method,
                request.path_qs,
                dict(request.headers),
                body,
                time.monotonic(),
                time.time_ns(),
            )
        )
        self.arrived.set()
        reply = self.script.popleft() if self.script else self.default
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)  # the slow service being simulated
        return web.Response(status=reply.status, text=reply.body, headers=dict(reply.headers))

    async def wait_for(self, count: int, timeout_s: float = 10.0) -> list[Captured]:
        async def enough() -> None:
            while len(self.requests) < count:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(enough(), timeout_s)
        return self.requests
