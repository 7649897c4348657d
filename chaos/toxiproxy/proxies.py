"""Every proxy of one server, and the API's proxy operations with Toxiproxy's semantics."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from typing import Any

from chaos.toxiproxy.errors import (
    BadRequest,
    MissingField,
    PopulateFailed,
    ProxyExists,
    ProxyNotFound,
    ToxiproxyError,
)
from chaos.toxiproxy.link import Clock
from chaos.toxiproxy.model import DEFAULT_LISTEN, field
from chaos.toxiproxy.proxy import Proxy, resolve
from chaos.toxiproxy.toxics.base import Toxic

_PROXY = "Proxy"


class ProxySet:
    """Mutations are serialised by one lock, like Toxiproxy's collection mutex."""

    def __init__(
        self, registry: Mapping[str, type[Toxic]], rng: random.Random, clock: Clock
    ) -> None:
        self.proxies: dict[str, Proxy] = {}
        self._registry, self._rng, self._clock = registry, rng, clock
        self._lock = asyncio.Lock()

    def get(self, name: str) -> Proxy:
        try:
            return self.proxies[name]
        except KeyError:
            raise ProxyNotFound() from None

    async def create(self, body: Mapping[str, Any]) -> Proxy:
        async with self._lock:
            name, listen, upstream, enabled = _proxy_fields(body)
            if name in self.proxies:
                raise ProxyExists()
            return await self._add(name, listen, upstream, enabled)

    async def populate(self, items: list[Any]) -> list[Proxy]:
        """Create or replace each proxy in turn; an unchanged one keeps its toxics and state."""
        async with self._lock:
            try:
                fields = [_proxy_fields(item, f" at proxy {n}") for n, item in enumerate(items, 1)]
            except ToxiproxyError as exc:
                raise PopulateFailed(exc, None) from None
            done: list[Proxy] = []
            try:
                for name, listen, upstream, enabled in fields:
                    done.append(await self._populate_one(name, listen, upstream, enabled))
            except ToxiproxyError as exc:
                raise PopulateFailed(exc, [p.to_json() for p in done]) from None
            return done

    async def update(self, name: str, body: Mapping[str, Any]) -> Proxy:
        """PATCH: move (restart) on a new listen/upstream, then start or stop as asked."""
        async with self._lock:
            proxy = self.get(name)
            listen = await resolve(field(body, "listen", str, _PROXY) or proxy.listen)
            upstream = field(body, "upstream", str, _PROXY) or proxy.upstream
            wanted = field(body, "enabled", bool, _PROXY)
            wanted = proxy.enabled if wanted is None else wanted
            if (listen, upstream) != (proxy.listen, proxy.upstream):
                await proxy.stop()
                proxy.listen, proxy.upstream = listen, upstream
            if wanted and not proxy.enabled:
                await proxy.start()
            elif not wanted:
                await proxy.stop()
            return proxy

    async def delete(self, name: str) -> None:
        async with self._lock:
            await self.get(name).stop()
            del self.proxies[name]

    async def reset(self) -> None:
        """Enable every proxy and remove every toxic (a failed start ends the walk: 500)."""
        async with self._lock:
            for proxy in list(self.proxies.values()):
                await proxy.start()
                proxy.remove_all_toxics()

    async def close(self) -> None:
        async with self._lock:
            await asyncio.gather(*(p.stop() for p in self.proxies.values()))

    async def _populate_one(self, name: str, listen: str, upstream: str, enabled: bool) -> Proxy:
        old = self.proxies.get(name)
        if old is not None:
            if (await resolve(listen), upstream) == (old.listen, old.upstream):
                return old
            await old.stop()
            del self.proxies[name]
        return await self._add(name, listen, upstream, enabled)

    async def _add(self, name: str, listen: str, upstream: str, enabled: bool) -> Proxy:
        proxy = Proxy(
            name, listen, upstream, registry=self._registry, rng=self._rng, clock=self._clock
        )
        if enabled:
            await proxy.start()
        self.proxies[name] = proxy
        return proxy


def _proxy_fields(body: Any, suffix: str = "") -> tuple[str, str, str, bool]:
    """(name, listen, upstream, enabled) from a create/populate item, checked in order."""
    if not isinstance(body, dict):
        raise BadRequest("bad request body: json: cannot unmarshal into Go value of type Proxy")
    name = field(body, "name", str, _PROXY)
    if not name:
        raise MissingField("name", suffix)
    upstream = field(body, "upstream", str, _PROXY)
    if not upstream:
        raise MissingField("upstream", suffix)
    listen = field(body, "listen", str, _PROXY) or DEFAULT_LISTEN
    enabled = field(body, "enabled", bool, _PROXY)
    return name, listen, upstream, True if enabled is None else enabled
