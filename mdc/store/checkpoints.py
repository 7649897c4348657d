"""Book checkpoints and the book at an instant.

The book of (venue, symbol) at instant T (receive time) is the result of feeding the stored book
stream, in stored order, up to the first event with ts_recv > T, through the venue's `BookSync`
(the same sync logic the live system uses). A checkpoint is the sync's `checkpoint()` snapshot
after some record `seq`; its `ts_recv` is the largest ts_recv up to `seq`, so it may start the
replay for any T at or after it. Restoring = a fresh `book_sync` fed that snapshot, then the
records after `seq`: identical to the full replay.

Checkpoints are taken, when the book is in sync, at the first record of each new `interval_ns`
of receive time or after `every_events` records, whichever comes first: a function of the stream
alone, so refreshing incrementally and rebuilding produce the same files. A refresh follows the
book streams that have new records (`follow.py`), each from its latest checkpoint (restored) or
its start, in batches of `batch_events`: the follower keeps each stream's stored order, so how
the streams interleave changes nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

import msgspec

from mdc.book import Book
from mdc.errors import ConfigError
from mdc.events import BookSnapshot, Event, from_msgpack, to_msgpack
from mdc.store import records
from mdc.store.follow import Follower, Position
from mdc.store.projection import Aside, ProjectionState, atomic_write
from mdc.store.streams import Stream, StreamFilter
from mdc.store.wal import WAL

SUFFIX = ".ckpt"


class BookSyncLike(Protocol):
    book: Book
    last_update_id: int | None
    last_ts_event: int

    @property
    def in_sync(self) -> bool: ...
    def on_event(self, event: Event) -> list[Event]: ...
    def checkpoint(self, ts_event: int, ts_recv: int) -> BookSnapshot | None: ...


BookSyncFactory = Callable[[str, str], BookSyncLike]


def venue_book_sync(venue: str, symbol: str) -> BookSyncLike:
    """The live system's sync for `venue`/`symbol` (from the venue registry)."""
    try:
        from mdc.venues.registry import get_venue  # noqa: PLC0415 - venues are optional here
    except ImportError as exc:
        raise ConfigError("book replay needs the venue registry (mdc.venues.registry)") from exc
    return get_venue(venue).book_sync(symbol)


class _Header(msgspec.Struct, frozen=True):
    seq: int
    max_ts_recv: int
    snapshot: bytes


@dataclass(frozen=True, slots=True)
class Checkpoint:
    seq: int
    max_ts_recv: int
    snapshot: BookSnapshot


@dataclass(frozen=True, slots=True)
class BookAt:
    """The book at `at_ns`; `last_seq` is the last record applied (-1: none); `update_id` and
    `ts_event` name the venue's state it shows (its last update id, or venue time)."""

    bids: list[tuple[Decimal, Decimal]]
    asks: list[tuple[Decimal, Decimal]]
    in_sync: bool
    last_seq: int
    replayed: int
    checkpoint_seq: int | None
    update_id: int | None = None
    ts_event: int = 0


@dataclass(slots=True)
class _Progress:
    """A book stream being checkpointed: its live sync, the largest ts_recv it was fed, the
    `interval_ns` bucket of the last checkpoint (None: none yet) and the records fed since."""

    sync: BookSyncLike
    max_ts: int
    bucket: int | None
    count: int = 0


class CheckpointProjection:
    def __init__(
        self,
        data_dir: str,
        book_sync: BookSyncFactory,
        interval_ns: int = 60 * 1_000_000_000,
        every_events: int = 10_000,
        batch_events: int = 20_000,
    ) -> None:
        self.root = os.path.join(data_dir, "checkpoints")
        self.book_sync = book_sync
        self.interval_ns = interval_ns
        self.every_events = every_events
        self.batch_events = batch_events  # what one follower batch holds in memory

    def names(self, stream: Stream) -> list[str]:
        directory = os.path.join(self.root, stream.dirname)
        if not os.path.isdir(directory):
            return []
        return sorted(n for n in os.listdir(directory) if n.endswith(SUFFIX))

    def load(self, stream: Stream, name: str) -> Checkpoint:
        with open(os.path.join(self.root, stream.dirname, name), "rb") as f:
            end = records.ScanEnd()
            payload = next(records.scan(f, end))
        header = msgspec.msgpack.decode(payload, type=_Header)
        snap = from_msgpack(header.snapshot)
        assert isinstance(snap, BookSnapshot)
        return Checkpoint(header.seq, header.max_ts_recv, snap)

    def latest(self, stream: Stream, at_ns: int | None = None) -> Checkpoint | None:
        """The last checkpoint whose ts_recv is at or before `at_ns` (any, if None)."""
        names = [n for n in self.names(stream) if at_ns is None or int(n[:20]) <= at_ns]
        return self.load(stream, names[-1]) if names else None

    def restore(self, stream: Stream, checkpoint: Checkpoint | None) -> BookSyncLike:
        sync = self.book_sync(stream.venue, stream.symbol)
        if checkpoint is not None:
            sync.on_event(checkpoint.snapshot)
        return sync

    def refresh(self, wal: WAL) -> int:
        """Checkpoint every book stream up to its durable end; returns how many were written."""
        state = ProjectionState.load(self.root)
        books: dict[Stream, _Progress] = {}
        starts: dict[Stream, int] = {}
        for stream, end in sorted(wal.positions().items()):
            if stream.family == "book" and state.positions.get(stream, 0) < end:
                last = self.latest(stream)
                max_ts = last.max_ts_recv if last else -1
                bucket = max_ts // self.interval_ns if last else None
                books[stream] = _Progress(self.restore(stream, last), max_ts, bucket)
                starts[stream] = last.seq + 1 if last else 0
        written = 0
        only = StreamFilter(families=("book",), streams=set(books))
        with Follower(wal, Position.of(starts), only) as follower:
            while batch := follower.next_batch(self.batch_events):
                for (stream, seq), event in batch.items:
                    written += self._feed(stream, books[stream], seq, event)
                if state.advance(follower.position.as_dict()):
                    state.save(self.root)
            if state.advance(follower.position.as_dict()):  # past holes at the end
                state.save(self.root)
        return written

    def _feed(self, stream: Stream, book: _Progress, seq: int, event: Event) -> int:
        """Apply one record; checkpoint after it if one is due (returns how many were written)."""
        book.sync.on_event(event)
        book.max_ts, book.count = max(book.max_ts, event.ts_recv), book.count + 1
        due = (
            book.bucket is None
            or book.max_ts // self.interval_ns > book.bucket
            or book.count >= self.every_events
        )
        snap = book.sync.checkpoint(event.ts_event, book.max_ts) if due else None
        if snap is None:
            return 0
        self._write(stream, Checkpoint(seq, book.max_ts, snap))
        book.bucket, book.count = book.max_ts // self.interval_ns, 0
        return 1

    def rewind(self, stream: Stream, seq: int, aside: Aside) -> None:
        """Take back the stream's checkpoints taken at `seq` or later."""
        state = ProjectionState.load(self.root)
        if state.positions.get(stream, 0) <= seq:
            return
        for name in self.names(stream):
            if int(name[21 : -len(SUFFIX)]) >= seq:
                aside.move(os.path.join(self.root, stream.dirname, name))
        state.positions[stream] = seq
        state.save(self.root)

    def _write(self, stream: Stream, cp: Checkpoint) -> None:
        payload = msgspec.msgpack.encode(_Header(cp.seq, cp.max_ts_recv, to_msgpack(cp.snapshot)))
        name = f"{cp.max_ts_recv:020d}-{cp.seq:020d}{SUFFIX}"
        atomic_write(os.path.join(self.root, stream.dirname, name), records.encode(payload))


def book_at(
    wal: WAL,
    checkpoints: CheckpointProjection,
    stream: Stream,
    at_ns: int,
    *,
    depth: int | None = None,
    use_checkpoints: bool = True,
) -> BookAt:
    """The book of `stream` at receive time `at_ns`: checkpoint + replay (or full replay)."""
    cp = checkpoints.latest(stream, at_ns) if use_checkpoints else None
    sync = checkpoints.restore(stream, cp)
    last_seq = cp.seq if cp else -1
    replayed = 0
    for seq, event in wal.read_events(stream, last_seq + 1):
        if event.ts_recv > at_ns:
            break
        sync.on_event(event)
        last_seq, replayed = seq, replayed + 1
    bids, asks = sync.book.top(depth)
    checkpoint_seq = cp.seq if cp else None
    return BookAt(
        bids,
        asks,
        sync.in_sync,
        last_seq,
        replayed,
        checkpoint_seq,
        sync.last_update_id,
        sync.last_ts_event,
    )
