"""BookActor: every book of one venue, kept exact by the same BookSync the replay tools use."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid

import ray
from ray.actor import ActorHandle

from actors.producer import Producer
from mdc.batching import BatchPolicy, EventBatch, InOrder
from mdc.events import Event, Gap, Trade
from mdc.features import FeatureConfig, FeatureTracker, FeatureVector
from mdc.features.board import FeatureBoard, FeatureUpdate
from mdc.sync import BookSync
from mdc.venues.base import SessionConfig
from mdc.venues.registry import get_venue

BOOKS_ACTOR_TEMPLATE = "mdc-books-{venue}"
"""Ray name of a venue's BookActor, where the prediction API finds live features."""


@ray.remote(num_cpus=0, max_restarts=0)
class BookActor:
    """Applies book events in order; on a gap or checksum failure it records a Gap (to the store)
    and asks the provider for a snapshot. A fresh incarnation asks for snapshots of every symbol,
    since it starts with no books.

    It also computes the venue's live features: the provider's trades and book events, in the
    provider's order, feed a FeatureTracker, the same one `mdc features` feeds from the store,
    so live and replayed features agree. The prediction API finds it by name and copies the
    vectors that changed (`feature_updates`), so a prediction never calls this actor."""

    def __init__(
        self,
        venue: str,
        session: SessionConfig,
        writer: ActorHandle,
        policy: BatchPolicy,
        features: FeatureConfig | None = None,
    ) -> None:
        self.venue = get_venue(venue)
        self.features = FeatureTracker(features or FeatureConfig.default())
        self.session_config = session
        self.board = FeatureBoard(self.features, epoch=uuid.uuid4().hex)
        self.board.declare(self._instruments(), time.time_ns())
        self._news = asyncio.Event()
        self.syncs: dict[str, BookSync] = {}
        self.producer = Producer(f"books:{venue}", writer, policy)
        self.provider: ActorHandle | None = None
        self.applied = 0
        self.gaps = 0
        self._order = InOrder()
        self._lock = asyncio.Lock()
        self._apply_delay_s = 0.0

    async def set_provider(self, provider: ActorHandle, resync: bool) -> None:
        """A new provider (or a new us): what we hold may have missed messages; start over."""
        self.provider = provider
        if not resync:
            return
        async with self._lock:
            await self._invalidate_all("provider or book actor restarted")
        # Venues that send a snapshot on (re)subscribing do so on the new connection by themselves;
        # the others (REST snapshots) are asked.
        for symbol in self.session_config.symbols:
            if not self._sync(symbol).rules.snapshot_in_stream:
                await self._request(symbol, "provider or book actor restarted")

    async def set_writer(self, writer: ActorHandle) -> None:
        await self.producer.set_writer(writer)

    async def apply(self, batch: EventBatch) -> int:
        """Batches are applied strictly in the provider's order, one at a time."""
        if self._apply_delay_s:
            await asyncio.sleep(self._apply_delay_s)
        async with self._lock:
            gaps = 0
            for ready in self._order.push(batch):
                gaps += await self._apply(ready)
            if self._order.skipped:
                self._order.skipped = False
                gaps += await self._invalidate_all("book batches lost between actors")
            return gaps

    async def _apply(self, batch: EventBatch) -> int:
        gaps: list[Event] = []
        self.board.touched(batch.events)
        self._news.set()
        for event in batch.events:
            self.features.on_event(event)
            if type(event) is Trade:
                continue
            if event.symbol == "" and isinstance(event, Gap):
                # Ours alone to mark: a disconnect came with per-symbol book Gaps in line,
                # and a book overflow lost nothing in the store.
                for sync in self.syncs.values():
                    sync.invalidate(event.reason, emit=False)
                continue
            gaps += self._sync(event.symbol).on_event(event)
            self.applied += 1
        self.gaps += len(gaps)
        if gaps:
            await self.producer.add(gaps)
            await self.producer.flush()
        for sync in self.syncs.values():
            for need in sync.requests():
                await self._request(need.symbol, need.reason)
        return len(gaps)

    async def _invalidate_all(self, reason: str) -> int:
        gaps: list[Event] = []
        now = time.time_ns()
        for sync in self.syncs.values():
            gaps += sync.invalidate(reason, ts_event=now, ts_recv=now)
        if gaps:
            await self.producer.add(gaps)
            await self.producer.flush()
        return len(gaps)

    async def _request(self, symbol: str, reason: str) -> None:
        if self.provider is not None:
            self.provider.request_snapshot.remote(symbol, reason)

    def _sync(self, symbol: str) -> BookSync:
        sync = self.syncs.get(symbol)
        if sync is None:
            sync = self.syncs[symbol] = self.venue.book_sync(symbol, self.session_config)
        return sync

    async def book(self, symbol: str, depth: int = 10) -> dict:
        sync = self.syncs.get(symbol)
        if sync is None:
            return {"symbol": symbol, "in_sync": False, "bids": [], "asks": []}
        bids, asks = sync.book.top(depth)
        return {
            "symbol": symbol,
            "in_sync": sync.in_sync,
            "update_id": sync.last_update_id,
            "ts_event": sync.last_ts_event,
            "bids": bids,
            "asks": asks,
        }

    async def feature_vector(
        self, venue: str, symbol: str, t_ns: int | None = None
    ) -> FeatureVector | None:
        """The instrument's features as of `t_ns` (default: its latest event); None when it is
        not an instrument of ours. One of ours with no events yet (a fresh incarnation) has
        every feature unknown, which is not the same as not ours."""
        async with self._lock:
            vector = self.features.vector(venue, symbol, t_ns)
        if vector is None and (venue, symbol) in self._instruments():
            unknown = dict.fromkeys(self.features.config.names)
            vector = FeatureVector(venue, symbol, t_ns or time.time_ns(), unknown)
        return vector

    async def feature_updates(self, epoch: str, since: int, wait_s: float) -> FeatureUpdate:
        """The vectors that changed after version `since` of board `epoch` (all of them after a
        restart of ours): at once when there are some, else when some come, or after `wait_s`
        with none (which tells the follower its copy is current)."""
        if not self.board.has_news(epoch, since):
            self._news.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._news.wait(), wait_s)
        return self.board.updates(epoch, since)

    async def feature_instruments(self) -> list[tuple[str, str]]:
        return sorted(set(self.features.instruments()) | self._instruments())

    def _instruments(self) -> set[tuple[str, str]]:
        return {(self.venue.name, symbol) for symbol in self.session_config.symbols}

    async def _slow_for_testing(self, delay_s: float) -> None:
        """Every later batch waits `delay_s` before it is applied (pings still answer): a
        consumer that falls behind, for the back-pressure overflow test."""
        self._apply_delay_s = delay_s

    async def ping(self) -> dict:
        return {
            "pid": os.getpid(),
            "applied": self.applied,
            "gaps": self.gaps,
            "in sync": f"{sum(s.in_sync for s in self.syncs.values())}/{len(self.syncs)}",
            "unacked": len(self.producer.ledger),
        }

    async def pid(self) -> int:
        return os.getpid()

    async def stop(self, timeout_s: float = 10.0) -> bool:
        return await self.producer.drain(timeout_s)

    async def _hang_for_testing(self, seconds: float) -> None:
        time.sleep(seconds)
