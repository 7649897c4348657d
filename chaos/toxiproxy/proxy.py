"""One proxy: its listener, its open connections and its toxics.

Nothing here restricts hosts: `upstream` may be any TCP address (the test suite only ever
uses loopback), and `listen` defaults to loopback rather than Toxiproxy's every-interface.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import random
import socket
from collections.abc import Callable, Mapping
from typing import Any

from chaos.toxiproxy.errors import ListenFailed
from chaos.toxiproxy.link import Clock, Connection
from chaos.toxiproxy.model import ToxicList, join_host_port, split_host_port, toxic_json
from chaos.toxiproxy.pipeline import Direction, Pipeline, ToxicSpec
from chaos.toxiproxy.toxics.base import Toxic


async def resolve(address: str) -> str:
    """'host:port' -> 'ip:port' (Go's ResolveTCPAddr); errors are Go's text, status 500."""
    host, port = split_host_port(address)
    with contextlib.suppress(ValueError):
        return join_host_port(str(ipaddress.ip_address(host)), port)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise ListenFailed(f"listen tcp: lookup {host}: no such host") from None
    return join_host_port(str(infos[0][4][0]), port)


class Proxy:
    def __init__(
        self,
        name: str,
        listen: str,
        upstream: str,
        *,
        registry: Mapping[str, type[Toxic]],
        rng: random.Random,
        clock: Clock,
    ) -> None:
        self.name, self.listen, self.upstream = name, listen, upstream
        self.toxics = ToxicList(registry)
        self._rng, self._clock = rng, clock
        self._server: asyncio.Server | None = None
        self._connections: set[Connection] = set()
        self._epoch = 0

    @property
    def enabled(self) -> bool:
        return self._server is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "Logger": {},
            "toxics": [toxic_json(s) for s in self.toxics.ordered()],
        }

    async def start(self) -> None:
        """Bind `listen` (port 0 becomes the real port, kept for later restarts)."""
        if self._server is not None:
            return
        address = await resolve(self.listen)
        host, port = split_host_port(address)
        try:
            self._server = await asyncio.start_server(self._accept, host, port)
        except OSError as exc:
            reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
            raise ListenFailed(f"listen tcp {address}: bind: {reason}") from None
        bound = self._server.sockets[0].getsockname()
        self.listen = join_host_port(bound[0], bound[1])

    async def stop(self) -> None:
        """Stop listening and close every open connection (clients read EOF)."""
        self._epoch += 1
        server, self._server = self._server, None
        if server is not None:
            server.close()
        await asyncio.gather(*(conn.close() for conn in list(self._connections)))

    def add_toxic(self, body: Mapping[str, Any]) -> ToxicSpec:
        spec = self.toxics.create(body)
        self._each_connection(lambda conn, now: conn.add_toxic(spec, now))
        return spec

    def update_toxic(self, name: str, body: Mapping[str, Any]) -> ToxicSpec:
        spec = self.toxics.update(name, body)
        self._each_connection(lambda conn, now: conn.update_toxic(spec, now))
        return spec

    def remove_toxic(self, name: str) -> None:
        spec = self.toxics.remove(name)
        self._each_connection(lambda conn, now: conn.remove_toxic(spec, now))

    def remove_all_toxics(self) -> None:
        for spec in self.toxics.clear():
            self._each_connection(lambda conn, now, s=spec: conn.remove_toxic(s, now))

    def _each_connection(self, change: Callable[[Connection, int], None]) -> None:
        now = self._clock()
        for conn in self._connections:
            change(conn, now)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        epoch = self._epoch
        try:
            host, port = split_host_port(self.upstream)
            server = await asyncio.open_connection(host, port)
        except (OSError, ListenFailed):
            writer.transport.abort()
            return
        if epoch != self._epoch:
            for w in (writer, server[1]):
                w.transport.abort()
            return
        conn = Connection((reader, writer), server, self._pipelines(), self._clock)
        self._connections.add(conn)
        try:
            await conn.run()
        finally:
            self._connections.discard(conn)
            await conn.close()

    def _pipelines(self) -> dict[Direction, Pipeline]:
        now = self._clock()
        return {
            d: Pipeline(self.toxics.of(d), random.Random(self._rng.getrandbits(64)), now)
            for d in Direction
        }
