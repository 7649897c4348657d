"""Latency on a venue's proxy: every chunk is held `latency_ms` (± `jitter_ms`)."""

from __future__ import annotations

from typing import Any

from chaos.faults.base import check_param
from chaos.faults.proxied import ToxicFault


class ProxyLatency(ToxicFault):
    name = "proxy_latency"
    toxic_type = "latency"

    def __init__(self, *, latency_ms: int = 1000, jitter_ms: int = 0, **common: Any) -> None:
        super().__init__(**common)
        check_param(latency_ms >= 0 and 0 <= jitter_ms <= latency_ms, self.name,
                    "need latency_ms >= 0 and 0 <= jitter_ms <= latency_ms")  # fmt: skip
        self.latency_ms, self.jitter_ms = latency_ms, jitter_ms

    def attributes(self) -> dict[str, int]:
        return {"latency": self.latency_ms, "jitter": self.jitter_ms}
