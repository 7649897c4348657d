"""Local stand-ins for the services alerts are sent to: a loopback HTTP server that records every
request and answers from a script (429 with Retry-After, 500, 400, a slow reply), and an SMTP
server (aiosmtpd) that records every message."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from serve.deployment import free_port


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
    at: float


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
            Captured(request.method, request.path_qs, dict(request.headers), body, time.monotonic())
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


class _Recorder:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.logins: list[str] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd's hook name
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


class SmtpReceiver:
    """aiosmtpd on loopback with AUTH (user `mdc`, password `pw`) over plain TCP."""

    USER, PASSWORD = "mdc", "pw"

    def __init__(self) -> None:
        self.recorder = _Recorder()

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            self.USER.encode(),
            self.PASSWORD.encode(),
        )
        if ok:
            self.recorder.logins.append(self.USER)
        # handled=False: aiosmtpd answers the refusal (535) itself; its default, True, means
        # "already answered" and leaves the client waiting
        return AuthResult(success=ok, handled=False)

    def __enter__(self) -> SmtpReceiver:
        # A free port named up front: aiosmtpd's start() checks readiness by connecting to it.
        self.port = free_port()
        self.controller = Controller(
            self.recorder,
            hostname="127.0.0.1",
            port=self.port,
            authenticator=self._authenticate,
            auth_require_tls=False,
        )
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


class ThreadedCapture:
    """A CaptureServer on its own event loop in a thread, for tests whose main thread waits on
    a subprocess (`mdc run`)."""

    def __enter__(self) -> CaptureServer:
        started = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()

        async def serve() -> None:
            async with CaptureServer() as server:
                self.server = server
                started.set()
                await self._stop.wait()

        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(serve(),))
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("the capture server did not start")
        return self.server

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        self._loop.close()
