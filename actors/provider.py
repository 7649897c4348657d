"""ProviderActor: one venue connection. Parses, checks trade continuity, backfills, batches.

Book integrity is the BookActor's job: the provider forwards book events to it and carries out
the snapshot requests it sends back.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import time

import ray
from ray.actor import ActorHandle
from ray.exceptions import RayActorError, RayTaskError

from actors.connection import BACKFILL_DRAIN_S, VenueConnection, VenueRun
from actors.panel import USAGE
from actors.producer import Producer
from actors.telemetry import NO_TRACER, collector_process, flush_tracing, setup_tracing
from mdc.batching import Batcher, BatchPolicy, EventBatch
from mdc.errors import MalformedMessage
from mdc.events import BookDelta, BookSnapshot, Event, Gap, Trade
from mdc.sync import RESUBSCRIBING, NeedSnapshot, ResumePoint
from mdc.venues.base import SendText, Session
from mdc.venues.registry import get_venue, installed_version

log = logging.getLogger(__name__)
TO_BOOK_ACTOR = (BookSnapshot, BookDelta, Gap, Trade)
"""What the BookActor gets: book events for the books, and trades too for the live features."""
MAX_BOOK_CALLS_IN_FLIGHT = 32
BOOK_WAIT_S = 5.0
"""How long a provider waits for a BookActor that takes no batch before overflowing past it."""


@ray.remote(num_cpus=0, max_restarts=0)
class ProviderActor:
    def __init__(
        self,
        run: VenueRun,
        writer: ActorHandle,
        books: ActorHandle | None,
        policy: BatchPolicy,
    ) -> None:
        self.run = run
        self.venue = get_venue(run.venue)
        self.session = Session(self.venue, run.session, track_books=books is None)
        self.tracer = setup_tracing(f"provider:{run.venue}")
        self.producer = Producer(f"provider:{run.venue}", writer, policy, self.tracer)
        self.books = books
        self.connection = VenueConnection(
            self.session,
            run.endpoint,
            self._on_events,
            on_malformed=self._dead_letter,
            tracer=self.tracer,
            trace_frame=self._opens_batch,
        )
        self._dead_letters: set[asyncio.Task] = set()
        self._book_calls: list[ray.ObjectRef] = []
        self._books_overflowed = False
        self.book_overflows = 0
        self._types: collections.Counter[type] = collections.Counter()
        self._tasks: list[asyncio.Task] = []
        self.started_ns = time.time_ns()
        self.plugin = installed_version(run.venue)
        """The venue plugin this process loaded ("<distribution> <version>"): hot reload says
        which one it replaced."""
        self.lag_ns = 0
        self.gaps = 0
        self._new_book_incarnation(self.started_ns)

    async def start(self, resume: dict[str, ResumePoint], restarted: bool = False) -> None:
        """Connect, resuming after the newest durable trade of each symbol; after a crash of the
        previous provider, its books are marked broken first (in line, before any new event)."""
        for symbol, point in resume.items():
            self.session.resume(symbol, point)
        gaps = self.session.restarted(time.time_ns()) if restarted else []
        if gaps:  # a venue without books has none
            await self._on_events(gaps)
        self._tasks = [
            asyncio.create_task(self.connection.run()),
            asyncio.create_task(self._tick_loop()),
        ]

    async def _tick_loop(self) -> None:
        delay = self.producer.batcher.policy.max_delay_ms / 1000
        while True:
            await asyncio.sleep(delay)
            await self.producer.tick()
            if self._book_batcher.due(time.time_ns()):
                await self._flush_books()

    def _opens_batch(self) -> bool:
        """Only the frame that opens a batch gets spans: a trace follows batches, and spans for
        every frame (sampled out or not) cost a quarter of the provider's throughput."""
        return not self.producer.batcher.pending

    async def _on_events(self, events: list[Event]) -> None:
        self._types.update(map(type, events))
        tracer = self.tracer if self._opens_batch() else NO_TRACER
        with collector_process(tracer, venue=self.run.venue, events=events):
            self.lag_ns = time.time_ns() - events[-1].ts_event
            self.gaps += sum(type(e) is Gap for e in events)
            await self.producer.add(events)
            if self.books is not None:
                book_events = [e for e in events if isinstance(e, TO_BOOK_ACTOR)]
                if book_events:
                    now = time.time_ns()
                    self._book_batcher.add(book_events, now)
                    if self._book_batcher.due(now):
                        await self._flush_books()

    def _dead_letter(self, error: MalformedMessage, raw: bytes) -> None:
        """The raw bytes and the parse error go to the writer's dead letter queue (durable);
        ingestion goes on. Bounded: past the limit the oldest sends are awaited first."""
        ref = self.producer.writer.dead_letter_raw.remote(self.run.venue, raw, error.reason)
        task = asyncio.create_task(self._await_dead_letter(ref))
        self._dead_letters.add(task)
        task.add_done_callback(self._dead_letters.discard)

    async def _await_dead_letter(self, ref: ray.ObjectRef) -> None:
        try:
            await ref
        except (RayActorError, RayTaskError) as exc:
            log.error("%s: could not dead-letter a malformed message: %s", self.run.venue, exc)

    async def _flush_books(self) -> None:
        """Book events go to the BookActor in batches too (one Ray call per frame cost more than
        the frames); at most MAX_BOOK_CALLS_IN_FLIGHT calls unanswered."""
        batch = self._book_batcher.take(time.time_ns())
        if batch is None or self.books is None:
            return
        if len(self._book_calls) >= MAX_BOOK_CALLS_IN_FLIGHT:
            wait_s = 0.0 if self._books_overflowed else BOOK_WAIT_S
            _done, self._book_calls = await asyncio.to_thread(
                ray.wait, self._book_calls, num_returns=1, timeout=wait_s
            )
        if len(self._book_calls) >= MAX_BOOK_CALLS_IN_FLIGHT:
            self._overflow_books(batch)
            return
        if self._books_overflowed:
            batch = await self._after_overflow(batch)
        self._book_calls.append(self.books.apply.remote(batch))

    def _overflow_books(self, batch: EventBatch) -> None:
        """The BookActor answers pings but takes no batch: rather than queue without bound (or
        stall the socket), this batch skips it, dead-lettered as back-pressure overflow. The
        writer stores its events as usual; only the live books miss them."""
        self._books_overflowed = True
        self.book_overflows += 1
        reason = f"BookActor took no batch for {BOOK_WAIT_S:g}s ({MAX_BOOK_CALLS_IN_FLIGHT} queued)"
        ref = self.producer.writer.dead_letter_overflow.remote(self.run.venue, batch.events, reason)
        task = asyncio.create_task(self._await_dead_letter(ref))
        self._dead_letters.add(task)
        task.add_done_callback(self._dead_letters.discard)

    async def _after_overflow(self, batch: EventBatch) -> EventBatch:
        """The first batch after an overflow opens a new incarnation (the BookActor stops
        waiting for the skipped ones) led by a connection gap, stored too: every book resyncs,
        and replayed features see the same gap as the live ones."""
        self._books_overflowed = False
        now = time.time_ns()
        gap = Gap(self.run.venue, "", now, now, "connection", "book batches overflowed")
        await self.producer.add([gap])
        self._new_book_incarnation(now)
        self._book_batcher.add([gap, *batch.events], now)
        return self._book_batcher.take(now)

    async def request_snapshot(self, symbol: str, reason: str) -> None:
        """From the BookActor: that symbol's book needs a fresh snapshot. A resubscribe is
        marked in line first, so every keeper of the book knows about the silent window.
        Once stopping, there is no connection to resubscribe on: the disconnect gap stands."""
        if self.connection.stopping:
            return
        items = self.venue.snapshot_request(NeedSnapshot(symbol, reason), self.run.session)
        if any(isinstance(item, SendText) for item in items):
            now = time.time_ns()
            await self._on_events([Gap(self.run.venue, symbol, now, now, "book", RESUBSCRIBING)])
        for item in items:
            self.session.retry(item)
        await self.connection.carry_out()

    async def set_writer(self, writer: ActorHandle) -> None:
        await self.producer.set_writer(writer)

    async def set_books(self, books: ActorHandle) -> None:
        """A new BookActor: it numbers our batches from the start of a new incarnation."""
        self.books = books
        self._book_calls = []
        self._new_book_incarnation(time.time_ns())

    def _new_book_incarnation(self, now_ns: int) -> None:
        """Book batches numbered from 0 in a new incarnation: the BookActor stops waiting for
        any batch of the old one."""
        # One policy for both destinations: a book batch must not reach the BookActor before
        # the writer has the same events, or a Gap the BookActor stores for them could land
        # in the store ahead of the snapshot and deltas it is about (a shorter book window
        # did that: tests/integration/test_simulator_faults.py[close]).
        policy = self.producer.batcher.policy
        self._book_batcher = Batcher(f"provider:{self.run.venue}", policy, now_ns)

    async def ping(self) -> dict:
        conn = self.connection.stats
        return {
            "venue": self.run.venue,
            "pid": os.getpid(),
            "node": ray.get_runtime_context().get_node_id(),
            "started_ns": self.started_ns,
            "plugin": self.plugin,
            "phase": self.session.phase.value,
            "messages": conn.messages,
            "connects": conn.connects,
            "reconnects": conn.reconnects,
            "malformed": conn.malformed,
            "dropped": self.session.dropped,
            "gaps": self.gaps,
            "book overflows": self.book_overflows,
            "backfilled": conn.backfilled,
            "events by type": {t.__struct_config__.tag: n for t, n in self._types.items()},
            "lag histogram": self.producer.lag.snapshot(),
            "lag ms": round(self.lag_ns / 1e6, 1),
            "unacked": len(self.producer.ledger),
            "sent": self.producer.stats.batches_sent,
            "acked": self.producer.stats.batches_acked,
            "resent": self.producer.stats.resent,
            "failure": str(self.session.failure) if self.session.failure else "",
            USAGE: conn.usage(),
        }

    async def pid(self) -> int:
        return os.getpid()

    async def stop(self, timeout_s: float = 10.0) -> bool:
        """Close the connection, then flush and wait for every acknowledgement."""
        await self.connection.stop()
        if self._tasks:  # never started (its start failed): nothing runs, nothing was sent
            run = self._tasks[0]  # the connection finishes its backfills before it returns
            with contextlib.suppress(TimeoutError, Exception):
                await asyncio.wait_for(asyncio.shield(run), BACKFILL_DRAIN_S + timeout_s)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        drained = await self.producer.drain(timeout_s)
        await self._flush_books()
        with contextlib.suppress(RayActorError, RayTaskError, TimeoutError):
            await asyncio.wait_for(asyncio.gather(*self._book_calls), timeout_s)
        if self._dead_letters:
            await asyncio.wait(self._dead_letters, timeout=timeout_s)
        flush_tracing()
        return drained

    async def _hang_for_testing(self, seconds: float) -> None:
        """Blocks the actor's event loop, as a deadlocked provider would."""
        time.sleep(seconds)
