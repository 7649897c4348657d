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
    max_delay_ms: float = 5.0
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


class Batcher:
    """Accumulates events; says when a batch is due (by count or age); numbers batches."""

    def __init__(self, producer: str, policy: BatchPolicy) -> None:
        self.producer = producer
        self.policy = policy
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
        batch = EventBatch(self.producer, self.next_seq, self.pending, now_ns)
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
