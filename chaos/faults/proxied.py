"""Faults that act through a Toxiproxy API: ours (chaos/toxiproxy) or a real Toxiproxy named by
TOXIPROXY_URL. Only the standard toxiproxy-python client is used, so either works.

Which proxy: FaultContext.proxies maps a venue to its proxy's name; a fault's `venue` parameter is
a glob over those venues, resolved with the scenario's rng.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit

import requests
from toxiproxy import Toxiproxy
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists
from toxiproxy.proxy import Proxy

from chaos.faults.base import (
    Applied,
    BaseFault,
    FaultContext,
    FaultParamError,
    FaultSetupError,
    FaultStateError,
    FaultTargetError,
    check_param,
)

STREAMS = ("upstream", "downstream")
T = TypeVar("T")


class ToxiproxyAPI:
    """The toxiproxy-python client pointed at one server. The client keeps host and port as class
    attributes (process-wide), so every call points it at our server first."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        if not parts.hostname or not parts.port:
            raise FaultSetupError(f"Toxiproxy URL {url!r} needs a host and a port")
        self.url, self.host, self.port = url, parts.hostname, parts.port

    def _call(self, action: Callable[[Toxiproxy], T]) -> T:
        client = Toxiproxy()
        client.update_api_consumer(self.host, self.port)
        try:
            return action(client)
        except requests.ConnectionError as exc:
            raise FaultSetupError(f"no Toxiproxy API answers at {self.url}") from exc
        except InvalidToxic as exc:
            raise FaultParamError(f"Toxiproxy at {self.url} refused the toxic: {exc}") from exc

    def add_toxic(self, proxy: str, toxic: dict[str, Any]) -> None:
        """`toxic` as the API takes it: name, type, stream, toxicity, attributes."""

        def add(client: Toxiproxy) -> None:
            try:
                self._proxy(client, proxy).add_toxic(**toxic)
            except ProxyExists as exc:  # the API answers 409 for a toxic name in use, too
                raise FaultStateError(
                    f"proxy {proxy!r} already has a toxic {toxic['name']!r}"
                ) from exc

        self._call(add)

    def remove_toxic(self, proxy: str, name: str) -> None:
        """Idempotent: a toxic (or proxy) that is already gone is fine."""

        def remove(client: Toxiproxy) -> None:
            try:
                self._proxy(client, proxy).destroy_toxic(name)
            except (NotFound, FaultTargetError):
                return

        self._call(remove)

    def set_enabled(self, proxy: str, enabled: bool) -> None:
        def switch(client: Toxiproxy) -> None:
            found = self._proxy(client, proxy)
            if enabled:
                found.enable()
            else:
                found.disable()

        self._call(switch)

    def replace_proxy(self, name: str, upstream: str, listen: str = "127.0.0.1:0") -> str:
        """A fresh proxy `name` (replacing one of that name); returns its listen address."""

        def create(client: Toxiproxy) -> str:
            self.destroy_proxy(name)
            return client.create(upstream=upstream, name=name, listen=listen).listen

        return self._call(create)

    def destroy_proxy(self, name: str) -> None:
        """Idempotent: a proxy that is already gone is fine."""

        def destroy(client: Toxiproxy) -> None:
            found = client.get_proxy(name)
            if found is not None:
                client.destroy(found)

        self._call(destroy)

    def _proxy(self, client: Toxiproxy, name: str) -> Proxy:
        found = client.get_proxy(name)
        if found is None:
            raise FaultTargetError(f"Toxiproxy at {self.url} has no proxy {name!r}")
        return found


def pick_proxy(ctx: FaultContext, venue_glob: str) -> tuple[str, str]:
    """(venue, proxy name) chosen among the context's proxied venues."""
    proxies = ctx.require("proxies", "network faults need venue -> Toxiproxy proxy names")
    venue = ctx.pick(venue_glob, list(proxies), "proxied venue")
    return venue, proxies[venue]


class ToxicFault(BaseFault):
    """A fault that is one toxic on one proxy: added on inject, removed on heal."""

    kind = "network"
    toxic_type: ClassVar[str]

    def __init__(self, *, venue: str = "*", stream: str = "downstream", toxicity: float = 1.0):
        super().__init__()
        check_param(stream in STREAMS, self.name, f"stream must be one of {STREAMS}")
        check_param(0.0 <= toxicity <= 1.0, self.name, "toxicity must be within [0, 1]")
        self.venue, self.stream, self.toxicity = venue, stream, toxicity
        self._placed: tuple[ToxiproxyAPI, str, str] | None = None

    @abstractmethod
    def attributes(self) -> dict[str, int]:
        """The toxic's attributes as the Toxiproxy API names them."""

    def _apply(self, ctx: FaultContext) -> Applied:
        api = ToxiproxyAPI(ctx.toxiproxy_url)
        venue, proxy = pick_proxy(ctx, self.venue)
        toxic = f"chaos_{self.name}_{self.stream}"
        attributes = self.attributes()
        api.add_toxic(proxy, {"name": toxic, "type": self.toxic_type, "stream": self.stream,
                              "toxicity": self.toxicity, "attributes": attributes})  # fmt: skip
        self._placed = (api, proxy, toxic)
        detail = {"proxy": proxy, "toxic": toxic, "stream": self.stream, **attributes}
        return Applied(venue, detail)

    def _undo(self, ctx: FaultContext) -> None:
        if self._placed is not None:
            api, proxy, toxic = self._placed
            api.remove_toxic(proxy, toxic)
