"""The simulator's I/O shell: one aiohttp server per venue (websocket + REST on one port).

Everything here is plumbing: the real clock drives the model, sessions decide the frames,
fault links decide their fate, and bounded queues carry them to the socket. A client whose
queue fills is disconnected (after the venue's slow-client notice, if it has one).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import asdict, dataclass
from typing import Any

from aiohttp import WSMsgType, web

from mdc.simulator.config import SimulatorConfig
from mdc.simulator.control import ControlApi
from mdc.simulator.driver import VenueDriver
from mdc.simulator.encoders.base import HandshakeRejected, HttpReply, Session, SessionOutput
from mdc.simulator.faults import Close, FaultAction, FaultConfig, FaultLink
from mdc.simulator.firehose import FRAMES_PER_CHUNK, Tape
from mdc.simulator.truth import VenueTruth

_CLOSE = object()
REFUSED = HttpReply(503, '{"error":"simulated outage: connections refused"}')
SLOW_NOTICE_TIMEOUT_S = 1.0
FIREHOSE_HIGH_WATER = 1 << 20
"""Bytes a firehose lets wait in its transport before it waits for the client to read."""
FIREHOSE_DRAIN_POLL_S = 0.001


@dataclass(frozen=True, slots=True)
class VenueUrls:
    ws: str
    """Default websocket endpoint (Binance: append `?streams=...`)."""
    ws_base: str
    http: str


class Connection:
    """One websocket client: its session, fault link and bounded outgoing queue."""

    def __init__(
        self,
        conn_id: int,
        ws: web.WebSocketResponse,
        session: Session,
        *,
        link: FaultLink,
        queue_size: int,
        path: str,
    ) -> None:
        self.id = conn_id
        self.ws = ws
        self.session = session
        self.link = link
        self.path = path
        self.queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=queue_size)
        self.closing = False


def _now_ns() -> int:
    return time.time_ns()


class VenueServer:
    """Serves one venue until stopped; see `Simulator` for the usual entry point."""

    def __init__(self, name: str, config: SimulatorConfig) -> None:
        self.name = name
        self.config = config
        self.driver = VenueDriver(name, config)
        self.venue, self.truth = self.driver.venue, self.driver.truth
        self.connections: dict[int, Connection] = {}
        self.default_faults = FaultConfig()
        self.refuse_until_ns = 0
        """A refusal fault: websocket upgrades are answered 503 before this time."""
        self.control = ControlApi(self, _now_ns)
        self._next_id = 1
        self._runner: web.AppRunner | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.urls: VenueUrls | None = None

    async def start(self, port: int = 0) -> VenueUrls:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, port)
        await site.start()
        host, bound = self._runner.addresses[0][:2]
        base = f"{host}:{bound}"
        self.urls = VenueUrls(
            f"ws://{base}{self.venue.default_ws_path}", f"ws://{base}", f"http://{base}"
        )
        self._ticker = asyncio.create_task(self._tick_loop())
        return self.urls

    async def stop(self) -> None:
        """Stop ticking, close every client, free the port; re-raise a crash of the tick loop."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        for conn in list(self.connections.values()):
            await conn.ws.close()
        for task in list(self._tasks):
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _tick_loop(self) -> None:
        while True:
            now = _now_ns()
            pubs = self.driver.advance(now)
            for conn in list(self.connections.values()):
                self.deliver(conn, conn.session.on_publications(pubs, now))
                self.deliver(conn, conn.session.on_tick(now))
            await asyncio.sleep(self.config.tick_s)

    def deliver(self, conn: Connection, out: SessionOutput) -> None:
        """Control frames go straight to the queue; data frames pass the fault link first."""
        for frame in out.control:
            self._enqueue(conn, frame)
        for frame in out.data:
            self.deliver_actions(conn, conn.link.process(frame))
        if out.close:
            self._enqueue(conn, _CLOSE)

    def deliver_actions(self, conn: Connection, actions: list[FaultAction]) -> None:
        for action in actions:
            if isinstance(action, Close):
                self.abort(conn)
                return
            self._enqueue(conn, action.frame)

    def _enqueue(self, conn: Connection, item: Any) -> None:
        if conn.closing:
            return
        try:
            conn.queue.put_nowait(item)
        except asyncio.QueueFull:
            conn.closing = True
            self._spawn(self._drop_slow(conn))

    async def _drop_slow(self, conn: Connection) -> None:
        for frame in conn.session.on_slow_client():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.ws.send_str(frame), SLOW_NOTICE_TIMEOUT_S)
        await conn.ws.close(code=1008, message=b"slow client")

    def abort(self, conn: Connection) -> None:
        """Close now, whatever is still queued (the `close` fault)."""
        conn.closing = True
        self._spawn(conn.ws.close(code=1011, message=b"simulated close"))

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.path.startswith("/_sim/"):
            body = await request.read()
            reply = self.control.handle(request.method, request.path, request.query, body)
        elif request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._websocket(request)
        else:
            reply = self.venue.rest(request.path, request.query, request.headers)
        return _response(reply)

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        if _now_ns() < self.refuse_until_ns:
            return _response(REFUSED)
        try:
            session = self.venue.open_session(request.path, request.query, request.headers)
        except HandshakeRejected as rejected:
            return _response(rejected.reply)
        ws = web.WebSocketResponse(heartbeat=self.config.ping_interval_s)
        await ws.prepare(request)
        conn_id, self._next_id = self._next_id, self._next_id + 1
        rng = random.Random(f"{self.config.seed}:{self.name}:faults:{conn_id}")
        link = FaultLink(self.default_faults, rng)
        conn = Connection(
            conn_id,
            ws,
            session,
            link=link,
            queue_size=self.config.send_queue_frames,
            path=request.path_qs,
        )
        self.connections[conn_id] = conn
        writer = asyncio.create_task(self._write_loop(conn))
        try:
            self.deliver(conn, session.on_open(_now_ns()))
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self.deliver(conn, session.on_message(msg.data, _now_ns()))
        finally:
            del self.connections[conn_id]
            session.on_close()
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        return ws

    async def _write_loop(self, conn: Connection) -> None:
        while True:
            item = await conn.queue.get()
            while conn.link.stalled(now := _now_ns()):
                await asyncio.sleep(min(0.05, (conn.link.stalled_until_ns - now) / 1e9))
            if item is _CLOSE:
                await conn.ws.close()
                return
            try:
                await conn.ws.send_str(item)
            except ConnectionError:
                return


def _response(reply: HttpReply) -> web.Response:
    return web.Response(
        status=reply.status,
        text=reply.body,
        content_type="application/json",
        headers=dict(reply.headers),
    )


class Simulator:
    """All configured venues; `async with Simulator(cfg) as sim: sim.urls['binance'].ws`."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        self.servers = {name: VenueServer(name, self.config) for name in self.config.venues}
        self.urls: dict[str, VenueUrls] = {}

    async def start(self) -> dict[str, VenueUrls]:
        for index, (name, server) in enumerate(self.servers.items()):
            port = self.config.port_base + index if self.config.port_base else 0
            self.urls[name] = await server.start(port)
        return self.urls

    async def stop(self) -> None:
        for server in self.servers.values():
            await server.stop()

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def truth(self, venue: str) -> VenueTruth:
        return self.servers[venue].truth

    def set_faults(self, venue: str, connection: int | None = None, **faults: float) -> None:
        self.servers[venue].control.set_faults(faults, connection)

    def close_connections(self, venue: str, connection: int | None = None) -> list[int]:
        return self.servers[venue].control.close_now(connection)

    def stall(self, venue: str, seconds: float, connection: int | None = None) -> list[int]:
        return self.servers[venue].control.stall(seconds, connection)


@dataclass(slots=True)
class FirehoseStats:
    connections: int = 0
    frames_sent: int = 0
    tapes_finished: int = 0
    frames_per_s: float = 0.0
    """The pace (0: as fast as the client reads)."""


class FirehoseServer:
    """Replays one pre-encoded tape (`firehose.Tape`) from its start to every websocket client,
    as fast as the client reads it or at `frames_per_s`; REST is answered as the venue stood at
    the tape's start. `GET /_firehose` reports FirehoseStats as JSON, `POST
    /_firehose?frames_per_s=N` sets the pace for the next connections."""

    def __init__(self, tape: Tape, host: str = "127.0.0.1") -> None:
        self.tape = tape
        self.host = host
        self.stats = FirehoseStats()
        self._runner: web.AppRunner | None = None

    async def start(self, port: int = 0) -> VenueUrls:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, port).start()
        host, bound = self._runner.addresses[0][:2]
        base = f"{host}:{bound}"
        path = self.tape.rest_venue.default_ws_path
        return VenueUrls(f"ws://{base}{path}", f"ws://{base}", f"http://{base}")

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.path == "/_firehose":
            if request.method == "POST":
                self.stats.frames_per_s = float(request.query.get("frames_per_s", "0"))
            return web.json_response(asdict(self.stats))
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._websocket(request)
        return _response(self.tape.rest(request.path, request.query, request.headers))

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.stats.connections += 1
        replies = self.tape.replies
        streaming: asyncio.Task[None] | None = None
        try:
            for frame in replies[0]:
                await ws.send_str(frame)
            received = 0
            if len(replies) == 1:
                streaming = asyncio.create_task(self._stream(request))
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                received += 1
                for frame in replies[received] if received < len(replies) else ():
                    await ws.send_str(frame)
                if received == len(replies) - 1 and streaming is None:
                    streaming = asyncio.create_task(self._stream(request))
        finally:
            if streaming is not None:
                streaming.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                    await streaming
        return ws

    async def _stream(self, request: web.Request) -> None:
        """Raw writes of whole chunks of frames: the replies went out through `ws` before."""
        transport = request.transport
        assert transport is not None
        loop = asyncio.get_running_loop()
        pace, started = self.stats.frames_per_s, loop.time()
        sent = 0
        for chunk in self.tape.chunks:
            if transport.is_closing():
                return
            transport.write(chunk)
            sent += FRAMES_PER_CHUNK
            self.stats.frames_sent += FRAMES_PER_CHUNK
            ahead = sent / pace - (loop.time() - started) if pace else 0.0
            await asyncio.sleep(max(0.0, ahead))
            while transport.get_write_buffer_size() > FIREHOSE_HIGH_WATER:
                await asyncio.sleep(FIREHOSE_DRAIN_POLL_S)
        self.stats.tapes_finished += 1
