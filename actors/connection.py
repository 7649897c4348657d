"""The I/O shell around a venue Session: websocket, REST, reconnect with backoff, silence detection.

All protocol decisions live in the sans-I/O Session; this loop only moves bytes and carries out the
outbox. The Ray ProviderActor and the single-process runner both use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
import websockets
from opentelemetry.trace import NoOpTracer, Tracer
from websockets.asyncio.client import ClientConnection, connect

from actors.telemetry import NO_TRACER, provider_receive
from mdc.backoff import Backoff
from mdc.cost.model import CONNECT
from mdc.errors import CollectorError, MalformedMessage, is_retryable
from mdc.events import Event, Trade
from mdc.venues.base import HttpGet, Phase, Reconnect, SendText, Session, SessionConfig

log = logging.getLogger(__name__)

EventSink = Callable[[list[Event]], Awaitable[None]]


RECONNECT_BACKOFF = Backoff(initial=0.2, maximum=10.0)
"""Reconnects and REST retries; reset after a connection that stayed up."""


BACKFILL_DRAIN_S = 10.0


@dataclass(frozen=True)
class Endpoint:
    ws_url: str
    rest_url: str
    silence_timeout_s: float = 30.0
    open_timeout_s: float = 10.0
    max_frame_bytes: int = 8 * 2**20


@dataclass(frozen=True)
class VenueRun:
    """One venue connection to run: which venue, its session settings, where to connect."""

    venue: str
    session: SessionConfig
    endpoint: Endpoint


@dataclass
class ConnectionStats:
    """Running totals of one connection. The usage ones (bytes, calls) feed the cost view: they
    are application payload bytes (websocket frames' data, REST bodies as read), not wire
    bytes: TLS, TCP/IP and websocket framing, pings and HTTP headers are left out."""

    connects: int = 0
    reconnects: int = 0
    messages: int = 0
    malformed: int = 0
    http_requests: int = 0
    http_errors: int = 0
    backfilled: int = 0
    last_error: str = ""
    ws_bytes_in: int = 0
    ws_bytes_out: int = 0
    rest_bytes_in: int = 0
    rest_calls: Counter[str] = field(default_factory=Counter)
    """REST requests made (failed ones too: a venue bills or rate-limits attempts), by purpose."""

    def usage(self) -> dict:
        """The usage totals as the provider's ping reports them (`usage`); `api_calls` counts
        websocket handshakes as `connect` beside the REST calls by purpose."""
        return {
            "messages": self.messages,
            "ws_bytes_in": self.ws_bytes_in,
            "ws_bytes_out": self.ws_bytes_out,
            "rest_bytes_in": self.rest_bytes_in,
            "api_calls": {CONNECT: self.connects, **self.rest_calls},
        }


class VenueConnection:
    """Keeps one venue session connected until `stop()`; hands every event batch to `sink`.

    `sink` is awaited per received frame, so a slow consumer slows reading (back-pressure reaches
    the socket, and the venue, not our memory).
    """

    def __init__(
        self,
        session: Session,
        endpoint: Endpoint,
        sink: EventSink,
        *,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
        on_malformed: Callable[[CollectorError, bytes], None] | None = None,
        tracer: Tracer | None = None,
        trace_frame: Callable[[], bool] = lambda: True,
    ) -> None:
        self.session = session
        self.endpoint = endpoint
        self.sink = sink
        self.backoff = backoff or RECONNECT_BACKOFF
        self.rng = rng or random.Random()
        self.stats = ConnectionStats()
        self.on_malformed = on_malformed
        self.tracer = tracer or NoOpTracer()
        self.trace_frame = trace_frame
        self._stopping = asyncio.Event()
        self._ws: ClientConnection | None = None
        self._http_client: aiohttp.ClientSession
        self._pending_http: set[asyncio.Task] = set()
        self._reconnect_reason = ""
        self._http_failures_in_a_row = 0
        self._last_frame_at = 0.0

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def stop(self) -> None:
        self._stopping.set()
        if self._ws is not None:
            await self._ws.close()

    async def run(self) -> None:
        """Connect, stream, reconnect; returns on stop(), or raises the error that made the
        session fail for good (one no retry can fix)."""
        async with aiohttp.ClientSession(self.endpoint.rest_url) as http:
            self._http_client = http
            try:
                await self._keep_connected()
                await self._finish_backfills(BACKFILL_DRAIN_S)
            finally:
                for task in list(self._pending_http):
                    task.cancel()

    async def _finish_backfills(self, timeout_s: float) -> None:
        """On a stop, REST requests in flight (and their retries) get a bounded time to finish:
        a trade gap left open now would stay open, since the next start resumes after the
        last stored trade."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self._pending_http and (left := deadline - loop.time()) > 0:
            await asyncio.wait(set(self._pending_http), timeout=left)

    async def _keep_connected(self) -> None:
        attempt = 0
        while not self._stopping.is_set():
            up_since = time.monotonic()
            reason = await self._connect_once()
            if self._stopping.is_set() or self.session.failure is not None:
                break
            attempt = 0 if time.monotonic() - up_since > 5 else attempt + 1
            self.stats.reconnects += 1
            self.stats.last_error = reason
            delay = self.backoff.delay(attempt, self.rng)
            log.info("%s: reconnecting in %.2fs (%s)", self.session.venue.name, delay, reason)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
        if self.session.failure is not None:
            raise self.session.failure

    async def _connect_once(self) -> str:
        url = self.endpoint.ws_url + self.session.venue.ws_path(self.session.config)
        try:
            async with connect(
                url,
                open_timeout=self.endpoint.open_timeout_s,
                max_size=self.endpoint.max_frame_bytes,
                compression=None,
            ) as ws:
                self._ws = ws
                if self._stopping.is_set():  # stop() came while connecting: it saw no _ws
                    return "stopping"
                self.stats.connects += 1
                await self._deliver(self.session.connected(time.time_ns()))
                return await self._stream(ws)
        except (OSError, TimeoutError, websockets.WebSocketException) as exc:
            return f"{type(exc).__name__}: {exc}"
        except CollectorError as exc:
            if not is_retryable(exc):
                await self._give_up(exc)
            return str(exc)
        finally:
            self._ws = None
            await self._deliver(self.session.disconnected(time.time_ns(), "connection ended"))

    async def _stream(self, ws: ClientConnection) -> str:
        """REST requests in flight are not tied to the websocket: a backfill started before a
        disconnect must finish (cancelling it lost the gap's trades for good)."""
        self._reconnect_reason = ""
        loop = asyncio.get_running_loop()
        self._last_frame_at = loop.time()
        watchdog = asyncio.create_task(self._close_when_silent(ws))
        try:
            while True:
                await self.carry_out()
                if self._reconnect_reason:
                    return self._reconnect_reason
                try:
                    frame = await ws.recv()
                except websockets.ConnectionClosed as exc:
                    return self._reconnect_reason or f"connection closed: {exc}"
                self._last_frame_at = loop.time()
                data = frame.encode() if isinstance(frame, str) else frame
                self.stats.messages += 1
                self.stats.ws_bytes_in += len(data)
                await self._receive(data)
                if self.session.phase is Phase.FAILED:
                    return "venue rejected the session"
        finally:
            watchdog.cancel()

    async def _close_when_silent(self, ws: ClientConnection) -> None:
        """One timer per connection, not one per frame (a timeout around every `recv` cost the
        provider more than the websocket read itself): a silent venue is disconnected."""
        timeout_s = self.endpoint.silence_timeout_s
        loop = asyncio.get_running_loop()
        while (idle := loop.time() - self._last_frame_at) < timeout_s:
            await asyncio.sleep(timeout_s - idle)
        self._reconnect_reason = f"no message for {timeout_s}s"
        await ws.close()

    async def _receive(self, data: bytes) -> None:
        tracer = self.tracer if self.trace_frame() else NO_TRACER
        with provider_receive(tracer, venue=self.session.venue.name, nbytes=len(data)):
            try:
                events = self.session.receive(data, time.time_ns())
            except MalformedMessage as exc:
                self.stats.malformed += 1
                if self.on_malformed is not None:
                    self.on_malformed(exc, data)
                events = self.session.malformed(exc.reason, time.time_ns())
            await self._deliver(events)

    async def carry_out(self) -> None:
        """Send frames, start REST requests, or close for a reconnect, as the session asks."""
        for item in self.session.outbox():
            match item:
                case SendText() if self._ws is not None and not self.stopping:
                    await self._ws.send(item.text)
                    self.stats.ws_bytes_out += len(item.text.encode())
                case HttpGet():
                    task = asyncio.create_task(self._http(item))
                    self._pending_http.add(task)
                    task.add_done_callback(self._pending_http.discard)
                case Reconnect():
                    self._reconnect_reason = item.reason
                    if self._ws is not None:
                        await self._ws.close()

    async def _http(self, request: HttpGet) -> None:
        self.stats.http_requests += 1
        self.stats.rest_calls[request.purpose] += 1
        try:
            async with self._http_client.get(
                request.path, params=list(request.params), headers=dict(request.headers)
            ) as response:
                body = await response.read()
                self.stats.rest_bytes_in += len(body)
                events = self.session.http_response(request, response.status, body, time.time_ns())
        except (aiohttp.ClientError, TimeoutError, CollectorError) as exc:
            self.stats.http_errors += 1
            self.stats.last_error = f"{request.purpose} request failed: {exc}"
            if isinstance(exc, CollectorError) and not is_retryable(exc):
                await self._give_up(exc)
                return
            self._http_failures_in_a_row += 1
            log.warning("%s: %s", self.session.venue.name, self.stats.last_error)
            await self._retry_later(request)
            return
        self._http_failures_in_a_row = 0
        if request.purpose != "snapshot":
            self.stats.backfilled += sum(type(e) is Trade for e in events)
        await self._deliver(events)
        await self.carry_out()

    async def _retry_later(self, request: HttpGet) -> None:
        """A failed REST call is repeated after a backoff; the gap stays open until it succeeds."""
        attempt = min(self._http_failures_in_a_row, 6)
        if self._stopping.is_set():  # only the drain's bounded time is left
            attempt = 0
        await asyncio.sleep(self.backoff.delay(attempt, self.rng))
        self.session.retry(request)
        await self.carry_out()

    async def _give_up(self, error: CollectorError) -> None:
        """Retrying cannot help (a rejected API key, a missing endpoint): the session fails, its
        Status event and a log line say what to fix, and the connection stops; run() raises."""
        if self.session.failure is not None:  # another request failed first
            return
        log.error("%s: stopped for good, not retried: %s", self.session.venue.name, error)
        await self._deliver(self.session.fail(error, time.time_ns()))
        await self.stop()

    async def _deliver(self, events: list[Event]) -> None:
        if events:
            await self.sink(events)
