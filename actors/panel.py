"""The live status panel of `mdc run`: a table on a terminal, a periodic line otherwise."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Iterator

from rich.console import Console
from rich.live import Live
from rich.table import Table

from actors.local import LocalPipeline

PLAIN_EVERY_S = 5.0


class StatusPanel:
    def __init__(self, pipeline: LocalPipeline, data_dir: str) -> None:
        self.pipeline = pipeline
        self.data_dir = data_dir
        self.console = Console(stderr=False)
        self._live: Live | None = None
        self._last_counts: dict[str, int] = {}
        self._last_at = time.monotonic()

    @contextlib.contextmanager
    def live(self) -> Iterator[None]:
        if not self.console.is_terminal:
            yield
            return
        with Live(self.table(), console=self.console, refresh_per_second=2) as live:
            self._live = live
            yield
        self._live = None

    async def refresh_until(self, stop: asyncio.Event) -> None:
        every = 1.0 if self._live is not None else PLAIN_EVERY_S
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)
            if self._live is not None:
                self._live.update(self.table())
            else:
                print(self.line(), flush=True)

    def _rates(self) -> dict[str, float]:
        now = time.monotonic()
        elapsed = max(now - self._last_at, 1e-9)
        rates = {}
        for venue, stats in self.pipeline.stats.venues.items():
            rates[venue] = (stats.events - self._last_counts.get(venue, 0)) / elapsed
            self._last_counts[venue] = stats.events
        self._last_at = now
        return rates

    def table(self) -> Table:
        rates = self._rates()
        table = Table(title="mdc run — Ctrl-C to stop (drains and flushes first)")
        for column in (
            "venue",
            "events/s",
            "events",
            "trades",
            "gaps",
            "reconnects",
            "malformed",
            "lag ms",
        ):
            table.add_column(column, justify="right" if column != "venue" else "left")
        for venue, stats in self.pipeline.stats.venues.items():
            conn = self.pipeline.connections[venue].stats
            table.add_row(
                venue,
                f"{rates[venue]:.0f}",
                str(stats.events),
                str(stats.trades),
                str(stats.gaps),
                str(conn.reconnects),
                str(conn.malformed),
                f"{stats.lag_ns / 1e6:.1f}",
            )
        p = self.pipeline.stats
        table.caption = (
            f"stored {p.stored}  duplicates {p.duplicates}  commits {p.commits}  "
            f"queue {self.pipeline.queue.qsize()}/{self.pipeline.queue.maxsize}  "
            f"storage errors {p.storage_errors}  disk {_disk_bytes(self.data_dir) / 1e6:.1f} MB"
        )
        return table

    def line(self) -> str:
        rates = self._rates()
        venues = "  ".join(f"{v} {r:.0f}/s" for v, r in rates.items())
        p = self.pipeline.stats
        return (
            f"{venues}  stored {p.stored}  queue {self.pipeline.queue.qsize()}  "
            f"gaps {sum(s.gaps for s in p.venues.values())}"
        )

    def summary(self, elapsed_s: float) -> str:
        p = self.pipeline.stats
        return (
            f"mdc run: stopped after {elapsed_s:.1f}s; {p.stored} events stored durably "
            f"({p.duplicates} duplicates skipped) in {self.data_dir}"
        )


def _disk_bytes(path: str) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.stat(os.path.join(root, name)).st_size
    return total
