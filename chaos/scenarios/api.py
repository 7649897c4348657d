"""The prediction API during a scenario: Ray Serve on a free loopback port, fed with live features
by the collector's BookActors, with Locust users on it for the whole fault phase and an optional
spike of extra users."""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from actors.books import BOOKS_ACTOR_TEMPLATE
from chaos.scenarios.base import Load
from loadtests.report import LoadReport
from loadtests.runner import LoadHandle, start_load
from serve.auth import KeyRing
from serve.deployment import ServeSpec, free_port, start_serve, stop_serve

LOAD_MARGIN_S = 30.0
"""Locust runs past the fault phase, through the final recovery; it is stopped after it."""


@dataclass
class ApiUnderLoad:
    load: Load
    out_dir: Path
    duration_s: float
    namespace: str
    url: str = ""
    reports: list[LoadReport] = field(default_factory=list)
    _key: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    _handles: list[LoadHandle] = field(default_factory=list)

    async def __aenter__(self) -> ApiUnderLoad:
        spec = ServeSpec(
            KeyRing([self._key]), actor=BOOKS_ACTOR_TEMPLATE, actor_namespace=self.namespace
        )
        served = await asyncio.to_thread(start_serve, spec, "127.0.0.1", free_port())
        self.url = served.url
        self._handles.append(self._locust("steady", self.load.users, self.duration_s))
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            for handle in self._handles:
                handle.stop()
                self.reports.append(await asyncio.to_thread(handle.wait))
        finally:
            await asyncio.to_thread(stop_serve)

    async def spike(self, phase_started: float) -> None:
        """`spike_users` more users for `spike_s` seconds, from `spike_at_fraction` of the run."""
        if not self.load.spike_users or not self.load.spike_s:
            return
        at = phase_started + self.duration_s * self.load.spike_at_fraction
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        self._handles.append(self._locust("spike", self.load.spike_users, self.load.spike_s))

    def _locust(self, name: str, users: int, seconds: float) -> LoadHandle:
        return start_load(self.url, users, seconds + LOAD_MARGIN_S, self._key, self.out_dir / name)

    def summary(self) -> dict[str, Any]:
        """Totals over every Locust run of the scenario; p99 is the worst of them."""
        requests = sum(r.requests for r in self.reports)
        failures = sum(r.failures for r in self.reports)
        p99 = [r.p99_ms for r in self.reports if r.p99_ms is not None]
        return {
            "requests": requests,
            "failures": failures,
            "error_rate": failures / requests if requests else 1.0,
            "p99_ms": max(p99) if p99 else None,
            "p50_ms": self.reports[0].p50_ms if self.reports else None,
            "rps": sum(r.rps for r in self.reports),
            "runs": [_brief(r) for r in self.reports],
        }


def _brief(report: LoadReport) -> dict[str, Any]:
    return {
        "requests": report.requests,
        "failures": report.failures,
        "rps": report.rps,
        "p50_ms": report.p50_ms,
        "p95_ms": report.p95_ms,
        "p99_ms": report.p99_ms,
    }
