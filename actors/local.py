"""The whole collector in one process, without Ray: venue connections -> bounded queue -> store.

This is what `mdc run` runs until the Ray runtime lands, and afterwards the single-process baseline
the actor pipeline is benchmarked against. Every hop is bounded: a full queue makes the venue
connections wait (back-pressure to the sockets), never grows memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from actors.connection import VenueConnection, VenueRun
from mdc.backoff import Backoff
from mdc.errors import CollectorError
from mdc.events import Event, Gap, Trade
from mdc.features import FeatureConfig, FeatureTracker
from mdc.store import Store
from mdc.venues.base import Session
from mdc.venues.registry import get_venue

log = logging.getLogger(__name__)
STORE_RETRY = Backoff(initial=0.05, maximum=5.0, floor=0.5)
"""A refused append (disk full...) is retried after this (the one backoff policy)."""


@dataclass
class VenueStats:
    events: int = 0
    trades: int = 0
    gaps: int = 0
    last_ts_recv: int = 0
    lag_ns: int = 0
    by_type: Counter = field(default_factory=Counter)


@dataclass
class PipelineStats:
    venues: dict[str, VenueStats] = field(default_factory=dict)
    stored: int = 0
    duplicates: int = 0
    commits: int = 0
    storage_errors: int = 0
    last_storage_error: str = ""


class LocalPipeline:
    """Connections feed one bounded queue; one writer task appends batches durably (group commit
    happens naturally: while one append+fsync runs, the next batch accumulates)."""

    def __init__(
        self,
        runs: list[VenueRun],
        store: Store,
        *,
        queue_batches: int = 1000,
        max_batch_events: int = 5000,
        features: FeatureConfig | None = None,
        on_stored: Callable[[], None] | None = None,
    ) -> None:
        """`features`: live features too, as the actor runtime computes them (for a like-for-like
        baseline); nothing reads them here. `on_stored`: called after each commit (followers
        of the log learn that it grew)."""
        self.store = store
        self._on_stored = on_stored
        self.features = FeatureTracker(features) if features is not None else None
        self._rng = random.Random()
        self.queue: asyncio.Queue[list[Event]] = asyncio.Queue(maxsize=queue_batches)
        self.max_batch_events = max_batch_events
        self.stats = PipelineStats()
        self.connections = {
            run.venue: VenueConnection(
                Session(get_venue(run.venue), run.session), run.endpoint, self._sink_for(run.venue)
            )
            for run in runs
        }
        for name in self.connections:
            self.stats.venues[name] = VenueStats()

    def _sink_for(self, venue: str) -> Callable:
        stats_holder = self.stats

        async def sink(events: list[Event]) -> None:
            stats = stats_holder.venues[venue]
            now = time.time_ns()
            for event in events:
                stats.events += 1
                stats.by_type[type(event).__name__] += 1
                if isinstance(event, Trade):
                    stats.trades += 1
                    stats.lag_ns = max(0, now - event.ts_event)
                elif isinstance(event, Gap):
                    stats.gaps += 1
            stats.last_ts_recv = now
            if self.features is not None:
                for event in events:
                    self.features.on_event(event)
            await self.queue.put(events)

        return sink

    def rows(self) -> dict[str, dict]:
        """One status-panel row per venue connection, plus the store."""
        rows = {}
        for venue, conn in self.connections.items():
            stats = self.stats.venues[venue]
            in_sync = sum(s.in_sync for s in conn.session.books.values())
            rows[venue] = {
                "state": conn.session.phase.value,
                "messages": stats.events,
                "reconnects": conn.stats.reconnects,
                "gaps": stats.gaps,
                "in sync": f"{in_sync}/{len(conn.session.books)}",
            }
        rows["store"] = {
            "state": "ok" if not self.stats.storage_errors else "errors",
            "messages": self.stats.stored,
            "unacked": self.queue.qsize(),
        }
        return rows

    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set, then stop the venues, drain the queue and flush."""
        writer = asyncio.create_task(self._write_loop())
        venues = [
            asyncio.create_task(self._run_venue(name, c)) for name, c in self.connections.items()
        ]
        try:
            await stop.wait()
        finally:
            for connection in self.connections.values():
                await connection.stop()
            await asyncio.gather(*venues, return_exceptions=True)
            await self.queue.join()
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer

    async def _run_venue(self, name: str, connection: VenueConnection) -> None:
        """A venue that fails for good (rejected credentials...) stops alone; the rest go on."""
        try:
            await connection.run()
        except CollectorError as exc:
            log.error("%s: stopped for good: %s", name, exc)

    async def _write_loop(self) -> None:
        while True:
            batch = await self.queue.get()
            taken = 1
            while len(batch) < self.max_batch_events and not self.queue.empty():
                batch = batch + self.queue.get_nowait()
                taken += 1
            await self._append_until_stored(batch)
            for _ in range(taken):
                self.queue.task_done()

    async def _append_until_stored(self, batch: list[Event]) -> None:
        """Keep the batch until the store takes it: a failed append is retried, never dropped."""
        for attempt in itertools.count():
            try:
                result = await asyncio.to_thread(self.store.append, batch)
            except CollectorError as exc:
                self.stats.storage_errors += 1
                self.stats.last_storage_error = str(exc)
                await asyncio.sleep(STORE_RETRY.delay(attempt, self._rng))
                continue
            self.stats.stored += result.stored
            self.stats.duplicates += result.duplicates
            self.stats.commits += 1
            if self._on_stored is not None:
                self._on_stored()
            return
