"""Connection resets on a venue's proxy: each connection is reset (RST) after `timeout_ms`, so
the provider sees ECONNRESET, reconnects, and is reset again until healed."""

from __future__ import annotations

from typing import Any

from chaos.faults.base import check_param
from chaos.faults.proxied import ToxicFault


class ProxyReset(ToxicFault):
    name = "proxy_reset"
    toxic_type = "reset_peer"

    def __init__(self, *, timeout_ms: int = 0, **common: Any) -> None:
        super().__init__(**common)
        check_param(timeout_ms >= 0, self.name, "timeout_ms must be >= 0")
        self.timeout_ms = timeout_ms

    def attributes(self) -> dict[str, int]:
        return {"timeout": self.timeout_ms}
