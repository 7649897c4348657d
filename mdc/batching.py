"""Batches that cross process boundaries, and the producer-side ledger of unacknowledged ones.

Events cross actor boundaries only in batches (one remote call per event costs ~0.6 ms here). A
producer keeps every batch until the writer acknowledges it (after fsync), bounded, and resends
them all after a writer restart; the store's dedup makes a resend harmless.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from mdc.errors import ConfigError
from mdc.events import Event


@dataclass(frozen=True)
class BatchPolicy:
    max_events: int = 500
    max_delay_ms: float = 20.0
    max_unacked: int = 64
    """Batches in flight; a producer at the limit waits for acknowledgements (back-pressure)."""

    def __post_init__(self) -> None:
        if self.max_events < 1 or self.max_delay_ms <= 0 or self.max_unacked < 1:
            raise ConfigError("batch policy: max_events, max_delay_ms, max_unacked must be > 0")


@dataclass(frozen=True, slots=True)
class EventBatch:
    producer: str
    seq: int
    events: list[Event]
    created_ns: int
    trace: dict[str, str] = field(default_factory=dict)
    """W3C trace context of the span that produced the batch, so the consumer's span is a child."""
    incarnation: int = 0
    """Which life of the producer sent it (a restarted producer numbers its batches from 0)."""


class Batcher:
    """Accumulates events; says when a batch is due (by count or age); numbers batches."""

    def __init__(self, producer: str, policy: BatchPolicy, incarnation: int = 0) -> None:
        self.producer = producer
        self.policy = policy
        self.incarnation = incarnation
        self.pending: list[Event] = []
        self.oldest_ns: int | None = None
        self.next_seq = 0

    def add(self, events: list[Event], now_ns: int) -> None:
        if not self.pending:
            self.oldest_ns = now_ns
        self.pending.extend(events)

    def due(self, now_ns: int) -> bool:
        if len(self.pending) >= self.policy.max_events:
            return True
        if self.oldest_ns is None:
            return False
        return now_ns - self.oldest_ns >= self.policy.max_delay_ms * 1e6

    def take(self, now_ns: int) -> EventBatch | None:
        if not self.pending:
            return None
        batch = EventBatch(
            self.producer, self.next_seq, self.pending, now_ns, incarnation=self.incarnation
        )
        self.next_seq += 1
        self.pending, self.oldest_ns = [], None
        return batch


class UnackedLedger:
    """Batches sent but not yet acknowledged, oldest first."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.batches: OrderedDict[int, EventBatch] = OrderedDict()

    @property
    def full(self) -> bool:
        return len(self.batches) >= self.limit

    def sent(self, batch: EventBatch) -> None:
        self.batches[batch.seq] = batch

    def acked(self, seq: int) -> None:
        self.batches.pop(seq, None)

    def to_resend(self) -> list[EventBatch]:
        return list(self.batches.values())

    def __len__(self) -> int:
        return len(self.batches)


class InOrder:
    """Hands batches on in their producer's send order.

    Ray runs an async actor's calls concurrently, so arrival order is not send order; a book
    applied out of order fails its checks (or worse). Batches of an older producer incarnation
    are stale and dropped. If more than `limit` batches wait for a missing one, the missing one
    is taken as lost: `skipped` is set and delivery resumes at the oldest waiting batch.
    """

    def __init__(self, limit: int = 1000) -> None:
        self.limit = limit
        self.incarnation = -1
        self.next_seq = 0
        self.waiting: dict[int, EventBatch] = {}
        self.skipped = False

    def push(self, batch: EventBatch) -> list[EventBatch]:
        if batch.incarnation < self.incarnation:
            return []
        if batch.incarnation > self.incarnation:
            self.incarnation, self.next_seq, self.waiting = batch.incarnation, 0, {}
        if batch.seq < self.next_seq:
            return []
        self.waiting[batch.seq] = batch
        if len(self.waiting) > self.limit:
            self.next_seq = min(self.waiting)
            self.skipped = True
        ready = []
        while self.next_seq in self.waiting:
            ready.append(self.waiting.pop(self.next_seq))
            self.next_seq += 1
        return ready
