"""A partition through the proxy: the venue's proxy is disabled (its connections are dropped and
new ones refused) until heal enables it again."""

from __future__ import annotations

from chaos.faults.base import Applied, BaseFault, FaultContext
from chaos.faults.proxied import ToxiproxyAPI, pick_proxy


class ProxyDown(BaseFault):
    name = "proxy_down"
    kind = "network"

    def __init__(self, *, venue: str = "*") -> None:
        super().__init__()
        self.venue = venue
        self._down: tuple[ToxiproxyAPI, str] | None = None

    def _apply(self, ctx: FaultContext) -> Applied:
        api = ToxiproxyAPI(ctx.toxiproxy_url)
        venue, proxy = pick_proxy(ctx, self.venue)
        api.set_enabled(proxy, False)
        self._down = (api, proxy)
        return Applied(venue, {"proxy": proxy})

    def _undo(self, ctx: FaultContext) -> None:
        if self._down is not None:
            api, proxy = self._down
            api.set_enabled(proxy, True)
