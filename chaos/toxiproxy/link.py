"""The data path's I/O shell: one proxied connection and its two pumped links.

All decisions come from each link's `Pipeline`; this file only reads, waits until the
pipeline's next wake-up (or a change), writes, and closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
from collections.abc import Callable

from chaos.toxiproxy.pipeline import MAX_PENDING_ITEMS, Direction, Pipeline, ToxicSpec
from chaos.toxiproxy.toxics.base import Chunk, Close, Eof

READ_SIZE = 32 * 1024
CLOSE_FLUSH_S = 2.0
"""How long a FIN close may wait for a peer to take the bytes already written."""
Clock = Callable[[], int]


class Link:
    """Pumps one direction: source reader -> pipeline -> destination writer."""

    def __init__(
        self,
        source: asyncio.StreamReader,
        dest: asyncio.StreamWriter,
        pipeline: Pipeline,
        conn: Connection,
    ) -> None:
        self.pipeline = pipeline
        self._source, self._dest, self._conn = source, dest, conn
        self._changed = asyncio.Event()
        self._room = asyncio.Event()

    def changed(self) -> None:
        """Input arrived or the toxics changed: re-plan the next wake-up."""
        self._changed.set()

    async def read_loop(self) -> None:
        clock = self._conn.clock
        with contextlib.suppress(OSError):
            while data := await self._read_when_room():
                self.pipeline.feed(Chunk(data, clock()))
                self._changed.set()
        self.pipeline.feed(Eof(clock()))
        self._changed.set()

    async def write_loop(self) -> None:
        clock = self._conn.clock
        while True:
            for item in self.pipeline.poll(clock()):
                if not isinstance(item, Chunk):
                    await self._conn.close(reset=isinstance(item, Close) and item.reset)
                    return
                self._dest.write(item.data)
                try:
                    await self._dest.drain()
                except OSError:
                    await self._conn.close()
                    return
            self._room.set()
            self._changed.clear()
            wake = self.pipeline.next_wake_ns()
            timeout = None if wake is None else max(0, wake - clock()) / 1e9
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout)

    async def _read_when_room(self) -> bytes:
        while self.pipeline.pending() >= MAX_PENDING_ITEMS:
            self._room.clear()
            await self._room.wait()
        return await self._source.read(READ_SIZE)


class Connection:
    """A client and its upstream socket; closing either side closes both (no half-close)."""

    def __init__(
        self,
        client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        server: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        pipelines: dict[Direction, Pipeline],
        clock: Clock = time.monotonic_ns,
    ) -> None:
        self.clock = clock
        self._writers = (client[1], server[1])
        self.links = {
            Direction.UPSTREAM: Link(client[0], server[1], pipelines[Direction.UPSTREAM], self),
            Direction.DOWNSTREAM: Link(server[0], client[1], pipelines[Direction.DOWNSTREAM], self),
        }
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = asyncio.Event()

    async def run(self) -> None:
        """Pump both links until the connection closes."""
        for link in self.links.values():
            self._tasks += [
                asyncio.create_task(link.read_loop()),
                asyncio.create_task(link.write_loop()),
            ]
        await self._closed.wait()

    def add_toxic(self, spec: ToxicSpec, now_ns: int) -> None:
        self._edit(spec.direction, lambda p: p.add(spec, now_ns))

    def update_toxic(self, spec: ToxicSpec, now_ns: int) -> None:
        self._edit(spec.direction, lambda p: p.update(spec, now_ns))

    def remove_toxic(self, spec: ToxicSpec, now_ns: int) -> None:
        self._edit(spec.direction, lambda p: p.remove(spec.name, now_ns))

    def _edit(self, direction: Direction, change: Callable[[Pipeline], None]) -> None:
        link = self.links[direction]
        change(link.pipeline)
        link.changed()

    async def close(self, *, reset: bool = False) -> None:
        """FIN both sockets (after flushing what was written), or RST them if `reset`."""
        if self._closed.is_set():
            return
        self._closed.set()
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        for writer in self._writers:
            if reset:
                _abort_with_rst(writer)
            else:
                writer.close()
        for writer in self._writers:
            try:
                await asyncio.wait_for(writer.wait_closed(), CLOSE_FLUSH_S)
            except (OSError, TimeoutError):
                writer.transport.abort()


def _abort_with_rst(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
