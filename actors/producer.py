"""The producer side of the batch protocol, used by every actor that sends events to the writer."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, replace

from opentelemetry.trace import NoOpTracer, Tracer
from ray.actor import ActorHandle
from ray.exceptions import RayActorError, RayTaskError

from actors.metrics import LagHistogram
from actors.telemetry import inject, pipeline_enqueue
from mdc.batching import Batcher, BatchPolicy, EventBatch, UnackedLedger
from mdc.events import Event

log = logging.getLogger(__name__)


@dataclass
class ProducerStats:
    batches_sent: int = 0
    batches_acked: int = 0
    resent: int = 0
    writer_failures: int = 0


class Producer:
    """Batches events by count and age, keeps each batch until the writer acknowledges it (after
    fsync), waits when too many are in flight, and resends them all to a new writer."""

    def __init__(
        self, name: str, writer: ActorHandle, policy: BatchPolicy, tracer: Tracer | None = None
    ) -> None:
        self.batcher = Batcher(name, policy, incarnation=time.time_ns(), encode=True)
        """Each life numbers its batches from 0; the writer orders them per (name, life)."""
        self.ledger = UnackedLedger(policy.max_unacked)
        self.writer = writer
        self.stats = ProducerStats()
        self.lag = LagHistogram()
        self.tracer = tracer or NoOpTracer()
        self._batch_parent: dict[str, str] = {}
        self._changed = asyncio.Condition()
        self._tasks: set[asyncio.Task] = set()

    async def add(self, events: list[Event]) -> None:
        now = time.time_ns()
        if not self.batcher.pending:
            self._batch_parent = inject()  # the frame that opens a batch roots its trace
        self.batcher.add(events, now)
        if self.batcher.due(now):
            await self.flush()

    async def tick(self) -> None:
        """Called every few ms: sends a batch that has waited long enough."""
        if self.batcher.due(time.time_ns()):
            await self.flush()

    async def flush(self) -> None:
        batch = self.batcher.take(time.time_ns())
        if batch is None:
            return
        parent, self._batch_parent = self._batch_parent, {}
        with pipeline_enqueue(
            self.tracer, producer=batch.producer, events=batch.events, carrier=parent
        ):
            batch.trace.update(inject())  # the writer's spans become children of this one
            async with self._changed:
                await self._changed.wait_for(lambda: not self.ledger.full)
            self.ledger.sent(batch)
            self._send(batch)

    async def set_writer(self, writer: ActorHandle) -> None:
        """A new writer incarnation: everything unacknowledged goes to it again, in order."""
        self.writer = writer
        for batch in self.ledger.to_resend():
            self.stats.resent += 1
            self._send(batch)

    async def drain(self, timeout_s: float) -> bool:
        """Flush and wait until every batch is acknowledged; False if the time ran out."""
        await self.flush()
        try:
            async with self._changed:
                await asyncio.wait_for(self._changed.wait_for(lambda: not self.ledger), timeout_s)
        except TimeoutError:
            return False
        return True

    def _send(self, batch: EventBatch) -> None:
        batch = replace(batch, acked_below=self.ledger.oldest())
        self.stats.batches_sent += 1
        task = asyncio.create_task(self._await_ack(batch, self.writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _await_ack(self, batch: EventBatch, writer: ActorHandle) -> None:
        try:
            await writer.append.remote(batch)
        except (RayActorError, RayTaskError) as exc:
            # The batch stays in the ledger; set_writer() (after a restart) or a retry resends it.
            self.stats.writer_failures += 1
            log.warning("%s: batch %d not acknowledged: %s", batch.producer, batch.seq, exc)
            if isinstance(exc, RayTaskError) and writer is self.writer:
                await asyncio.sleep(0.5)
                if batch.seq in self.ledger.batches and writer is self.writer:
                    self._send(batch)
            return
        self.stats.batches_acked += 1
        if batch.events:  # venue time of the batch's newest event to its fsync acknowledgement
            self.lag.observe(max(0.0, (time.time_ns() - batch.events[-1].ts_event) / 1e9))
        async with self._changed:
            self.ledger.acked(batch.seq)
            self._changed.notify_all()
