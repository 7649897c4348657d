"""How the prediction API meets the network: bounds on what one client can hold.

uvicorn bounds an idle keep-alive connection but not the time a client takes to send a request:
its timer starts only after a response and any byte received cancels it, so a client sending its
headers a byte at a time holds a connection (and a file descriptor) for ever. `RequestDeadline`
is uvicorn's h11 protocol plus one timer: a whole request (head and body, bodies being small here)
must arrive within `request_read_s` of the connection opening or of the previous response.

Ray Serve builds its proxy's uvicorn itself and takes no protocol class, so under `mdc serve` only
the keep-alive bound applies (`ray_http_options`): put a proxy with a header timeout in front
when clients are not trusted. Plain uvicorn (`uvicorn_config`) gets every bound, over h11
rather than the faster httptools parser, since the deadline is built on h11's protocol.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

READING = (h11.IDLE, h11.SEND_BODY)
"""The client's h11 states while its request has not fully arrived."""


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """Per-connection bounds. Above `max_connections` uvicorn answers 503 to every request,
    health included: it is a last resort; the app's in-flight limit (serve.app) comes first."""

    request_read_s: float = 10.0
    keep_alive_s: int = 5
    max_head_bytes: int = 16 * 1024
    max_connections: int = 1024


class RequestDeadline(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request is still incomplete
    `request_read_s` after the connection opened or the previous response was sent."""

    def __init__(self, *args: Any, request_read_s: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request_read_s = request_read_s
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state not in READING:
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.request_read_s, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        self.transport.close()


def uvicorn_config(app: Any, limits: HttpLimits = HttpLimits(), **options: Any) -> uvicorn.Config:
    """A uvicorn config serving `app` within `limits`; `options` are uvicorn's own."""
    return uvicorn.Config(
        app,
        http=functools.partial(RequestDeadline, request_read_s=limits.request_read_s),  # type: ignore[arg-type]
        timeout_keep_alive=limits.keep_alive_s,
        h11_max_incomplete_event_size=limits.max_head_bytes,
        limit_concurrency=limits.max_connections,
        **options,
    )


def ray_http_options(host: str, port: int, limits: HttpLimits = HttpLimits()) -> dict[str, Any]:
    """Serve's proxy options: the keep-alive bound (Ray's default is 90 s)."""
    return {"host": host, "port": port, "keep_alive_timeout_s": limits.keep_alive_s}


class _Server(uvicorn.Server):
    """uvicorn's server, telling another thread when it accepts connections."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


@contextmanager
def serving(config: uvicorn.Config, timeout_s: float = 15.0) -> Iterator[str]:
    """`config`'s server on a thread of this process, on a free port of 127.0.0.1 (tests,
    benchmarks); yields the base URL once it accepts connections."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = _Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        if not server.ready.wait(timeout_s):
            raise TimeoutError(f"uvicorn did not start within {timeout_s} s")
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout_s)
        sock.close()
