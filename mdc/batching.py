"""Batches that cross process boundaries, and the producer-side ledger of unacknowledged ones.

Events cross actor boundaries only in batches (one remote call per event costs ~0.6 ms here). A
producer keeps every batch until the writer acknowledges it (after fsync), bounded, and resends
them all after a writer restart; the store's dedup makes a resend harmless.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from mdc.errors import ConfigError
from mdc.events import Event
from mdc.store.encoded import EncodedBatch, encode_batch
from mdc.store.records import PAYLOAD_DECODER, UNENCODABLE, encode_payload


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
    acked_below: int | None = None
    """Every batch of this producer life numbered below this one's `acked_below` was
    acknowledged when it was sent: a receiver meeting the life for the first time (a restarted
    writer) starts its order there. None: an unordered one-off (a supervisor's status event),
    taken as it comes."""
    encoded: EncodedBatch | None = None
    """The events in the WAL's format (batches for the writer). When set, only this crosses a
    process boundary (`events` arrives empty): the events are serialized once, by the producer."""

    def __reduce__(self) -> tuple:
        """Across a process boundary: the encoding alone where there is one, else the events as
        msgpack (a C encoder; Ray's cloudpickle of the same events cost about 13 times more)."""
        events = b"" if self.encoded is not None else _packed(self.events)
        return (
            _rebuilt,
            (self.producer, self.seq, events, self.created_ns, self.trace, self.incarnation,
             self.acked_below, self.encoded),
        )  # fmt: skip

    @property
    def size(self) -> int:
        """Events in the batch, on either side of a process boundary."""
        return self.encoded.size if self.encoded is not None else len(self.events)

    def for_store(self) -> EncodedBatch | list[Event]:
        """What `Store.submit` takes: the encoding where there is one."""
        return self.encoded if self.encoded is not None else self.events

    def decoded(self) -> list[Event]:
        """The events, on either side of a process boundary."""
        if self.events or self.encoded is None:
            return self.events
        return self.encoded.decode()


def _packed(events: list[Event]) -> bytes | list[Event]:
    """The events as msgpack, or as they are if one cannot be encoded (pickled then: the
    receiver, the writer, refuses that event alone, with why)."""
    try:
        return encode_payload(events)
    except UNENCODABLE:
        return events


def _rebuilt(producer: str, seq: int, events: bytes | list[Event], *rest: object) -> EventBatch:
    """The batch again on the receiving side (see `EventBatch.__reduce__`)."""
    if isinstance(events, bytes):
        events = PAYLOAD_DECODER.decode(events) if events else []
    return EventBatch(producer, seq, events, *rest)  # type: ignore[arg-type]


class Batcher:
    """Accumulates events; says when a batch is due (by count or age); numbers batches."""

    def __init__(
        self, producer: str, policy: BatchPolicy, incarnation: int = 0, *, encode: bool = False
    ) -> None:
        self.producer = producer
        self.policy = policy
        self.incarnation = incarnation
        self.encode = encode
        """Whether batches carry their WAL encoding (batches for the writer do)."""
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
            self.producer,
            self.next_seq,
            self.pending,
            now_ns,
            incarnation=self.incarnation,
            encoded=self._encoded(self.pending),
        )
        self.next_seq += 1
        self.pending, self.oldest_ns = [], None
        return batch

    def _encoded(self, events: list[Event]) -> EncodedBatch | None:
        """The batch's encoding, or None: not wanted, or an event cannot be encoded (the batch
        then goes as events, and the writer's store refuses that event alone)."""
        if not self.encode:
            return None
        try:
            return encode_batch(events)
        except UNENCODABLE:
            return None


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

    def oldest(self) -> int:
        """The lowest unacknowledged batch number (the ledger holds the batch being sent)."""
        return next(iter(self.batches))

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


T = TypeVar("T")


def _life_of(batch: EventBatch) -> tuple[str, int]:
    """A producer life: its name and the incarnation stamped when it was made."""
    return batch.producer, batch.incarnation


@dataclass
class _Life(Generic[T]):
    next_seq: int
    waiting: dict[int, list[tuple[EventBatch, T]]] = field(default_factory=dict)


class ProducerOrder(Generic[T]):
    """The writer's order: each producer life's batches go to the store in send order.

    Ray runs an async actor's calls concurrently and resends come after newer batches, so
    arrival order is not send order; a stream stored out of order breaks the book at an instant.
    Unlike `InOrder` nothing is dropped: a batch below the expected number is a resend of one
    already handed on (the store deduplicates it), and a refused batch (`rewind`) makes its
    successors wait for its resend. Each batch travels with a token `T` (the caller's reply).

    Memory is bounded: a life waits for at most `limit` batches (its producer has at most
    `BatchPolicy.max_unacked` in flight); past that the hole is skipped (counted in
    `skipped`), and at most `max_lives` lives are remembered (the oldest idle ones go)."""

    def __init__(self, limit: int = 4096, max_lives: int = 4096) -> None:
        self.limit = limit
        self.max_lives = max_lives
        self.lives: OrderedDict[Hashable, _Life[T]] = OrderedDict()
        self.skipped = 0

    def push(self, batch: EventBatch, token: T) -> list[tuple[EventBatch, T]]:
        """The batches (with their tokens) now due for the store, in order."""
        if batch.acked_below is None:
            return [(batch, token)]
        life = self._life(batch, batch.acked_below)
        if batch.seq < life.next_seq:
            return [(batch, token)]
        life.waiting.setdefault(batch.seq, []).append((batch, token))
        if len(life.waiting) > self.limit:
            life.next_seq = min(life.waiting)
            self.skipped += 1
        return self._release(life)

    @staticmethod
    def _release(life: _Life[T]) -> list[tuple[EventBatch, T]]:
        ready: list[tuple[EventBatch, T]] = []
        for seq in sorted(s for s in life.waiting if s < life.next_seq):
            ready += life.waiting.pop(seq)  # acknowledged elsewhere meanwhile: resends
        while life.next_seq in life.waiting:
            ready += life.waiting.pop(life.next_seq)
            life.next_seq += 1
        return ready

    def rewind(self, batch: EventBatch) -> None:
        """`batch` was handed on but refused: the life's later batches wait for its resend."""
        life = self.lives.get(_life_of(batch))
        if life is not None:
            life.next_seq = min(life.next_seq, batch.seq)

    def blocked(self, batch: EventBatch) -> bool:
        """Whether an earlier batch of its life was refused after this one was handed on with
        it: kept now (stored, dead-lettered), this one would overtake that one."""
        life = self.lives.get(_life_of(batch))
        return life is not None and batch.seq > life.next_seq

    def _life(self, batch: EventBatch, acked_below: int) -> _Life[T]:
        key = _life_of(batch)
        life = self.lives.get(key)
        if life is None:
            life = self.lives[key] = _Life(acked_below)
            self._forget_idle()
        else:
            self.lives.move_to_end(key)
            life.next_seq = max(life.next_seq, acked_below)
        return life

    def _forget_idle(self) -> None:
        idle = [key for key, life in self.lives.items() if not life.waiting]
        for key in idle[: max(0, len(self.lives) - self.max_lives)]:
            del self.lives[key]
