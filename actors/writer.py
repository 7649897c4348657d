"""StorageWriterActor: the event store's write side as an actor; acknowledges after fsync."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections import Counter

import ray

from actors.telemetry import flush_tracing, setup_tracing, storage_write, wal_append
from actors.waiting import Versions
from mdc.batching import EventBatch, ProducerOrder
from mdc.dlq import DeadLetterQueue, DLQError, Filter
from mdc.store import FaultyFS, RealFS, StorageError, Store, Ticket, UnstorableEvent
from mdc.store.wal import Tail
from mdc.sync import ResumePoint, resume_point

RESUME_TAIL_RECORDS = 5_000
REFUSED = Filter(cause="storage_failure", state="pending")
"""Batches the store refused, waiting in the dead letter queue (oldest first)."""
RETRY_EVERY_NS = 1_000_000_000
"""How often appends also retry the dead letters that are due (their own backoff applies)."""


IO_CONCURRENCY = 4096
"""Appends in progress at once, all on the "io" group's one thread and event loop: an append
waiting for its producer's earlier batch must not keep that batch out (every producer's
`max_unacked` in flight fits)."""


class HeldBack(StorageError):
    """Not stored yet, so that it does not overtake batches refused before it (stored out of
    order, a book breaks): it follows them into the dead letter queue, or back to its producer."""

    @classmethod
    def behind(cls, batch: EventBatch) -> HeldBack:
        return cls(f"{batch.producer} batch {batch.seq}: an earlier batch of it was refused")

    @classmethod
    def behind_dead_letters(cls) -> HeldBack:
        return cls("batches the store refused earlier wait in the dead letter queue")


@ray.remote(num_cpus=0, max_restarts=0, concurrency_groups={"io": IO_CONCURRENCY, "health": 1})
class StorageWriterActor:
    """Appends are idempotent (the store deduplicates by identity), so a producer may resend any
    batch it holds after a restart without storing anything twice.

    A batch the store refuses (disk full, I/O error) goes to the dead letter queue, durably, and
    is acknowledged from there; later batches follow it there until the store takes them all
    again, oldest first (a book stored out of order breaks). Only when the DLQ cannot take it
    either is the append refused, and the producer keeps the batch.

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
            "commits": 0,
            "dead_lettered": 0,
            "started_ns": time.time_ns(),
        }
        self.failures: Counter[str] = Counter()
        self._waiting: list[tuple[EventBatch, Ticket, asyncio.Future]] = []
        self._order: ProducerOrder[asyncio.Future] = ProducerOrder()
        self._committer: asyncio.Task | None = None
        self._next_retry_ns = 0
        self._dlq_counts = self._count_dead_letters()
        self._note_recovery()
        self._refused = HeldBack.behind_dead_letters() if self.dlq.list(REFUSED, limit=1) else None
        """While batches the store refused wait in the DLQ, why; later batches go behind them."""
        self._durable = Versions()  # its waiters' event is made on the "io" loop

    @ray.method(concurrency_group="io")
    async def append(self, batch: EventBatch) -> tuple[str, int, int, int]:
        """Durable on return. Each producer's batches reach the store in its send order (they
        may arrive in any order); group commit: appends arriving within the store's commit delay
        of each other share one fsync (per touched file)."""
        with (
            storage_write(
                self.tracer, carrier=batch.trace, producer=batch.producer, events=batch.for_store()
            ),
            wal_append(self.tracer, events=batch.for_store()),
        ):
            future = asyncio.get_running_loop().create_future()
            for ready, reply in self._order.push(batch, future):
                self._submit(ready, reply)
            return await future

    def _submit(self, batch: EventBatch, future: asyncio.Future) -> None:
        if self._order.blocked(batch):
            future.set_exception(HeldBack.behind(batch))
            return
        if not self._waiting:  # a retry commits too: never while others' events are pending
            self._retry_dead_letters()
        if self._refused is not None:  # stored before the refused ones, it would overtake them
            self._fail_with(batch, future, self._refused)
            return
        try:
            ticket = self.store.submit(batch.for_store(), time.time_ns())
        except StorageError as exc:  # a commit of a full buffer failed: all pending did
            self._fail_with(batch, future, exc)
        else:
            try:
                self._dead_letter_refused(ticket)
            except StorageError as refused:  # kept nowhere: the producer keeps it and resends
                self._order.rewind(batch)
                future.set_exception(refused)
            else:
                self._waiting.append((batch, ticket, future))
            if self._committer is None or self._committer.done():
                self._committer = asyncio.create_task(self._commit_soon())

    async def _commit_soon(self) -> None:
        """Appends queued meanwhile join this fsync: the store's policy says how long to wait."""
        while wait_ns := self.store.commit_wait_ns(time.time_ns()):
            await asyncio.sleep(wait_ns / 1e9)
        if not self._waiting:
            return
        try:
            self.store.commit()
        except StorageError as exc:
            self._fail(exc)
            return
        waiting, self._waiting = self._waiting, []
        self.stats["commits"] += 1
        self._durable.move()
        for batch, ticket, future in waiting:
            self.stats["batches"] += 1
            self.stats["events"] += batch.size
            self.stats["stored"] += ticket.stored
            self.stats["duplicates"] += ticket.duplicates
            future.set_result((batch.producer, batch.seq, ticket.stored, ticket.duplicates))

    def _fail_with(self, batch: EventBatch, future: asyncio.Future, error: StorageError) -> None:
        """`batch` was not taken: it fails with everything pending (see `_fail`)."""
        self._waiting.append((batch, Ticket(0, 0, 0), future))
        self._fail(error)

    def _fail(self, error: StorageError) -> None:
        """The store rolled back everything pending: each waiting batch goes to the dead letter
        queue (and is acknowledged from there) or, if even that fails, back to its producer."""
        waiting, self._waiting = self._waiting, []
        self.failures["storage_failure"] += 1
        self._refused = error
        for batch, _ticket, future in waiting:
            try:
                if self._order.blocked(batch):  # its predecessor went back: it follows that one
                    raise HeldBack.behind(batch)
                self._dead_letter("storage_failure", batch.decoded(), error)
            except StorageError as refused:
                self._order.rewind(batch)  # its successors wait for the producer's resend
                future.set_exception(refused)
            else:
                future.set_result((batch.producer, batch.seq, 0, 0))

    def _dead_letter_refused(self, ticket: Ticket) -> None:
        """Events the store can never hold (the rest of their batch is stored) go to the dead
        letter queue with why, one entry per batch."""
        if ticket.refused:
            self.failures["unstorable_event"] += len(ticket.refused)
            error = UnstorableEvent(ticket.refused)
            self._dead_letter("unstorable_event", error.events, error)

    def _dead_letter(self, cause: str, events: list, error: StorageError) -> None:
        """Durable in the DLQ, or the original error goes back to the producer, which keeps it."""
        venue = events[0].venue if events else ""
        try:
            self.dlq.add_events(cause, venue, events, str(error), time.time_ns())
        except (StorageError, DLQError) as dlq_error:
            self.failures["dlq_failure"] += 1
            raise error from dlq_error
        finally:
            self._dlq_counts = self._count_dead_letters()
        self.stats["dead_lettered"] += len(events)

    def _note_recovery(self) -> None:
        """What opening the store cut off or moved aside: on stderr, and counted (ping)."""
        for line in self.store.problems():
            print(f"writer: store recovery: {line}", file=sys.stderr)
        for cause, found in (
            ("wal_torn_tail", self.store.recovery.truncations),
            ("wal_damage", self.store.recovery.damage),
        ):
            if found:
                self.failures[cause] += len(found)

    def _retry_dead_letters(self) -> None:
        """Refused batches at every append (the append waits behind them), others when due."""
        now = time.time_ns()
        if self._refused is None and now < self._next_retry_ns:
            return
        self._next_retry_ns = now + RETRY_EVERY_NS
        try:
            if self._refused is not None:
                self._store_refused(now)
            if self._refused is None:
                self.dlq.retry_due(self.store.append, now)
        except (StorageError, DLQError):
            self.failures["dlq_retry_failure"] += 1
        self._durable.move()
        self._dlq_counts = self._count_dead_letters()

    def _store_refused(self, now_ns: int) -> None:
        """The refused batches, oldest first, up to the first the store still refuses: a batch
        stored after a later one would break its book, replayed in stored order. Once all are
        in, the store takes new batches again."""
        for entry in self.dlq.list(REFUSED):
            self.store.append(entry.decoded_events())  # StorageError: refused still, stop here
            self.dlq.mark_retried(entry.id, True, "", now_ns)
        self._refused = None

    def _count_dead_letters(self) -> dict:
        """Kept for ping(), which runs on another thread than the DLQ's users."""
        counts = self.dlq.counts()
        by_cause_and_state = Counter((e.cause, e.state) for e in self.dlq.list())
        return {
            "dlq": [[cause, state, n] for (cause, state), n in by_cause_and_state.items()],
            "dlq_entries": counts.entries,
            "dlq_by_cause": dict(counts.by_cause),
            "dlq_by_state": dict(counts.by_state),
        }

    @ray.method(concurrency_group="io")
    async def dead_letter_overflow(self, venue: str, events: list, reason: str) -> int:
        """Events a consumer (the BookActor) could not take in time. They are stored through
        the normal path as well; the entry records what the live consumer missed."""
        self.failures["backpressure_overflow"] += 1
        entry = self.dlq.add_events("backpressure_overflow", venue, events, reason, time.time_ns())
        self._dlq_counts = self._count_dead_letters()
        return entry

    @ray.method(concurrency_group="io")
    async def dead_letter_raw(self, venue: str, raw: bytes, error: str) -> int:
        """A venue message that could not be parsed, kept with its raw bytes for inspection."""
        self.failures["parse_failure"] += 1
        entry = self.dlq.add_raw("parse_failure", venue, raw, error, time.time_ns())
        self._dlq_counts = self._count_dead_letters()
        return entry

    @ray.method(concurrency_group="io")
    async def last_trades(self, venue: str) -> dict[str, ResumePoint]:
        """Per symbol, where a restarted provider resumes: the newest durable trade, and the id
        holes between the durable trades (a backfill the old provider did not finish). Only
        each stream's tail is read: live trades arrive in id order, so the newest is there
        unless a large backfill was appended after it, in which case the resumed provider just
        backfills some trades again (dedup drops them)."""
        points = {}
        for stream in self.store.streams(venue=venue, families=["trades"]):
            pairs = self.store.trade_ids_tail(stream, RESUME_TAIL_RECORDS)
            point = resume_point(stream.symbol, pairs) if pairs else None
            if point is not None:
                points[stream.symbol] = point
        return points

    @ray.method(concurrency_group="io")
    async def durable_tails(self, since: int, wait_s: float) -> tuple[int, dict[str, Tail]]:
        """Long poll for log followers in other processes (the stream server): once the store
        has committed anything after version `since` (or `wait_s` passed), the version and every
        stream's durable end and newest segment, by stream dirname (see `WAL.follow`)."""
        version = await self._durable.past(since, wait_s)
        tails = self.store.wal.tails()
        return version, {s.dirname: tail for s, tail in tails.items()}

    @ray.method(concurrency_group="health")
    async def ping(self) -> dict:
        return {
            **self.stats,
            "pid": os.getpid(),
            "failures": dict(self.failures),
            "order_skipped": self._order.skipped,
            "failures by cause": dict(self.failures),
            "refusing writes": _reason(self._refused) if self._refused else "",
            **self._dlq_counts,
        }

    @ray.method(concurrency_group="health")
    async def pid(self) -> int:
        return os.getpid()

    @ray.method(concurrency_group="health")
    async def _hang_for_testing(self, seconds: float) -> None:
        """Blocks the loop that answers pings, as a wedged writer process would."""
        time.sleep(seconds)

    @ray.method(concurrency_group="io")
    async def _fail_storage_for_testing(self, op: str, err: int) -> None:
        """Make the store's `op` (write, fsync...) fail with errno `err` until healed."""
        self.fs.fail(op, err)

    @ray.method(concurrency_group="io")
    async def _heal_storage_for_testing(self) -> None:
        self.fs.heal()

    @ray.method(concurrency_group="io")
    async def close(self) -> None:
        if self._committer is not None:
            await self._committer
        self.store.close()
        self.dlq.close()
        flush_tracing()


def _reason(error: StorageError) -> str:
    """The OS error behind a refusal without its file name: one short console line, and a
    metric label that does not grow with every segment the store tries to open."""
    cause = error.__cause__
    if isinstance(cause, OSError) and cause.errno is not None:
        return f"[Errno {cause.errno}] {cause.strerror}"
    return str(error)
