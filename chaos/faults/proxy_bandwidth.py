"""Bandwidth starvation on a venue's proxy: at most `rate_kbps` KB/s get through, so the venue's
stream falls behind (and the provider's silence and lag checks are exercised)."""

from __future__ import annotations

from typing import Any

from chaos.faults.base import check_param
from chaos.faults.proxied import ToxicFault


class ProxyBandwidth(ToxicFault):
    name = "proxy_bandwidth"
    toxic_type = "bandwidth"

    def __init__(self, *, rate_kbps: int = 1, **common: Any) -> None:
        super().__init__(**common)
        check_param(rate_kbps >= 0, self.name, "rate_kbps must be >= 0")
        self.rate_kbps = rate_kbps

    def attributes(self) -> dict[str, int]:
        return {"rate": self.rate_kbps}
