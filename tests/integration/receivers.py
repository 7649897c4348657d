"""Local stand-ins for the services alerts are sent to: the loopback HTTP capture server (in
chaos/receiver.py, which the chaos scenarios use too), one on its own thread, and an SMTP server
(aiosmtpd) that records every message."""

from __future__ import annotations

import asyncio
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from chaos.receiver import Captured, CaptureServer, Reply
from serve.deployment import free_port

__all__ = ["CaptureServer", "Captured", "Reply", "SmtpReceiver", "ThreadedCapture"]


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
