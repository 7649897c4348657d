"""StorageWriterActor: the event store's write side as an actor; acknowledges after fsync."""

from __future__ import annotations

import os
import time
from collections import Counter

import ray

from actors.telemetry import flush_tracing, setup_tracing, storage_write, wal_append
from mdc.batching import EventBatch
from mdc.dlq import DeadLetterQueue, DLQError
from mdc.events import Trade
from mdc.store import FaultyFS, RealFS, StorageError, Store

RETRY_EVERY_NS = 1_000_000_000
"""How often appends also retry the dead letters that are due (their own backoff applies)."""


@ray.remote(num_cpus=0, max_restarts=0, concurrency_groups={"io": 1, "health": 1})
class StorageWriterActor:
    """Appends are idempotent (the store deduplicates by identity), so a producer may resend any
    batch it holds after a restart without storing anything twice.

    A batch the store refuses (disk full, I/O error) goes to the dead letter queue, durably, and
    is acknowledged from there; it is retried with backoff until the store takes it. Only when
    the DLQ cannot take it either is the append refused, and the producer keeps the batch.

    The store is used from one thread (the "io" group); pings run in their own thread, so a burst
    of appends (producers resending after a restart) does not look like a hang."""

    def __init__(self, data_dir: str, inject_faults: bool = False) -> None:
        self.fs = FaultyFS() if inject_faults else RealFS()
        self.store = Store.open(data_dir, fs=self.fs)
        self.dlq = DeadLetterQueue.open(data_dir)
        self.tracer = setup_tracing("writer")
        self.stats: dict = {
            "batches": 0,
            "events": 0,
            "stored": 0,
            "duplicates": 0,
            "dead_lettered": 0,
            "started_ns": time.time_ns(),
        }
        self.failures: Counter[str] = Counter()
        self._next_retry_ns = 0

    @ray.method(concurrency_group="io")
    def append(self, batch: EventBatch) -> tuple[str, int, int, int]:
        self._retry_dead_letters()
        with (
            storage_write(
                self.tracer, carrier=batch.trace, producer=batch.producer, events=batch.events
            ),
            wal_append(self.tracer, events=batch.events),
        ):
            try:
                result = self.store.append(batch.events)
            except StorageError as exc:
                self._dead_letter_batch(batch, exc)
                return batch.producer, batch.seq, 0, 0
        self.stats["batches"] += 1
        self.stats["events"] += len(batch.events)
        self.stats["stored"] += result.stored
        self.stats["duplicates"] += result.duplicates
        return batch.producer, batch.seq, result.stored, result.duplicates

    def _dead_letter_batch(self, batch: EventBatch, error: StorageError) -> None:
        """Durable in the DLQ, or the original error goes back to the producer, which keeps it."""
        self.failures["storage_failure"] += 1
        venue = batch.events[0].venue if batch.events else ""
        try:
            self.dlq.add_events("storage_failure", venue, batch.events, str(error), time.time_ns())
        except (StorageError, DLQError) as dlq_error:
            self.failures["dlq_failure"] += 1
            raise error from dlq_error
        self.stats["dead_lettered"] += len(batch.events)

    def _retry_dead_letters(self) -> None:
        now = time.time_ns()
        if now < self._next_retry_ns:
            return
        self._next_retry_ns = now + RETRY_EVERY_NS
        try:
            self.dlq.retry_due(self.store.append, now)
        except (StorageError, DLQError):
            self.failures["dlq_retry_failure"] += 1

    @ray.method(concurrency_group="io")
    def dead_letter_raw(self, venue: str, raw: bytes, error: str) -> int:
        """A venue message that could not be parsed, kept with its raw bytes for inspection."""
        self.failures["parse_failure"] += 1
        return self.dlq.add_raw("parse_failure", venue, raw, error, time.time_ns())

    @ray.method(concurrency_group="io")
    def last_trades(self, venue: str) -> dict[str, tuple[int, int]]:
        """The newest durable trade id and venue time per symbol, to resume continuity after a
        provider restart."""
        last: dict[str, tuple[int, int]] = {}
        for event in self.store.iter_events(venue=venue, types=["trade"]):
            if isinstance(event, Trade) and not event.aggregate:
                known = last.get(event.symbol)
                if known is None or (event.trade_id or 0, event.ts_event) > known:
                    last[event.symbol] = (event.trade_id or 0, event.ts_event)
        return last

    @ray.method(concurrency_group="health")
    def ping(self) -> dict:
        counts = self.dlq.counts()
        return {
            **self.stats,
            "failures": dict(self.failures),
            "dlq_entries": counts.entries,
            "dlq_by_cause": counts.by_cause,
            "dlq_by_state": counts.by_state,
        }

    @ray.method(concurrency_group="health")
    def pid(self) -> int:
        return os.getpid()

    @ray.method(concurrency_group="io")
    def _fail_storage_for_testing(self, op: str, err: int) -> None:
        """Make the store's `op` (write, fsync...) fail with errno `err` until healed."""
        self.fs.fail(op, err)

    @ray.method(concurrency_group="io")
    def _heal_storage_for_testing(self) -> None:
        self.fs.heal()

    @ray.method(concurrency_group="io")
    def close(self) -> None:
        self.store.close()
        self.dlq.close()
        flush_tracing()
