"""`Store`: the event store's facade over the WAL (write side) and the projections (read side).

Thread-safety: none; a writable Store belongs to one thread (the writer actor). Any number of
read-only Stores (queries, `mdc book`, replay) may be open in other processes at the same time.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Union, get_args

import duckdb
import msgspec

from mdc.events import AnyEvent, Event, Trade, from_msgpack, type_name
from mdc.store.bars import BarsProjection
from mdc.store.checkpoints import (
    BookAt,
    BookSyncFactory,
    CheckpointProjection,
    book_at,
    venue_book_sync,
)
from mdc.store.damage import SegmentReport
from mdc.store.encoded import EncodedBatch
from mdc.store.errors import StoreNotFound, UnstorableEvent
from mdc.store.follow import FOLLOWERS_DIR, Follower, FollowerState, Position
from mdc.store.fs import FileSystem, RealFS
from mdc.store.jsonl import JsonlProjection
from mdc.store.parquet import ParquetProjection
from mdc.store.projection import Aside, ProjectionState, drop
from mdc.store.query import (
    EXPORTING,
    READ_ONLY,
    QueryResult,
    one_statement,
    open_views,
    run_query,
)
from mdc.store.streams import Stream, StreamFilter
from mdc.store.wal import WAL, RecoveryReport, Ticket


class _TradeIds(msgspec.Struct, tag_field="type", tag="trade"):
    """The fields of a stored Trade that resuming needs (the others are skipped, not decoded)."""

    ts_event: int
    trade_id: int | None = None
    aggregate: bool = False


_OTHERS = tuple(
    msgspec.defstruct(f"_{kind.__name__}Stub", [], tag_field="type", tag=kind.__struct_config__.tag)
    for kind in get_args(AnyEvent)
    if kind is not Trade
)
"""Any other event (a trades stream holds its Gaps too), recognised by its tag alone."""
_TRADE_IDS = msgspec.msgpack.Decoder(Union[_TradeIds, *_OTHERS])

REPLICA_CURSOR_PREFIX = "replica-"
"""`DATA_DIR/followers/replica-<name>.pos`: a follower store's acknowledged position."""
REPLICA_HOLD_NS = 24 * 3600 * 10**9
"""Retention keeps what a lagging follower needs for this long at most (a day)."""

# Events `iter_events` takes from its follower at a time: few, as the GC scans what is held.
REPLAY_BATCH = 512


@dataclass(frozen=True, slots=True)
class CommitPolicy:
    """When a group commit is due: the oldest pending batch waited `max_delay_ns`, or `max_bytes`
    are pending (which also bounds the buffer)."""

    max_delay_ns: int = 2_000_000
    max_bytes: int = 8 * 1024 * 1024

    def wait_ns(self, pending_bytes: int, oldest_pending_ns: int | None, now_ns: int) -> int:
        """How long until a commit is due; 0: due now, or nothing is pending."""
        if oldest_pending_ns is None or pending_bytes >= self.max_bytes:
            return 0
        return max(0, oldest_pending_ns + self.max_delay_ns - now_ns)


@dataclass(frozen=True, slots=True)
class AppendResult:
    stored: int
    duplicates: int


class Store:
    wal: WAL
    recovery: RecoveryReport

    def __init__(
        self, data_dir: str, fs: FileSystem, *, policy: CommitPolicy, book_sync: BookSyncFactory
    ) -> None:
        self.data_dir = data_dir
        self.fs = fs
        self.policy = policy
        self.parquet = ParquetProjection(data_dir)
        self.bars = BarsProjection(data_dir, self.parquet)
        self.jsonl = JsonlProjection(data_dir)
        self.checkpoints = CheckpointProjection(data_dir, book_sync)
        self.aside = Aside(data_dir)
        self.rewound: list[tuple[Stream, int]] = []  # (stream, seq) the projections forgot from
        self._oldest_pending_ns: int | None = None

    @classmethod
    def open(
        cls,
        data_dir: str,
        *,
        fs: FileSystem | None = None,
        policy: CommitPolicy | None = None,
        readonly: bool = False,
        segment_bytes: int = 64 * 1024 * 1024,
        dedup_window: int = 100_000,
        book_sync: BookSyncFactory = venue_book_sync,
    ) -> Store:
        """Open (and recover) a store; read-only opens need an existing one and take no lock.
        A writable open also makes the projections agree with the log again (see `forget`)."""
        fs = fs or RealFS()
        if readonly and not os.path.isdir(os.path.join(data_dir, "wal")):
            raise StoreNotFound(f"no event store in {data_dir!r} (missing or empty data dir)")
        store = cls(data_dir, fs, policy=policy or CommitPolicy(), book_sync=book_sync)
        store.wal, store.recovery = WAL.open(
            os.path.join(data_dir, "wal"),
            fs,
            segment_bytes=segment_bytes,
            dedup_window=dedup_window,
            readonly=readonly,
            quarantine=os.path.join(data_dir, "quarantine"),
            forget=store.forget,
        )
        if not readonly:
            for stream in dict.fromkeys(stream for _, stream, _, _ in store.projections_ahead()):
                store.forget(stream, store.wal.positions().get(stream, 0))
        return store

    # -- write side -------------------------------------------------------------------------

    def append(self, events: Iterable[Event] | EncodedBatch) -> AppendResult:
        """Append and commit: durable on return. On StorageError nothing of it is acknowledged,
        except on UnstorableEvent: everything but the events it names was stored."""
        ticket = self.wal.append(events)
        self.commit()
        if ticket.refused:
            raise UnstorableEvent(ticket.refused, ticket.stored, ticket.duplicates)
        return AppendResult(ticket.stored, ticket.duplicates)

    def submit(self, events: Iterable[Event] | EncodedBatch, now_ns: int) -> Ticket:
        """Group commit: buffer a batch; it is acknowledged by a later `commit`/`commit_if_due`
        (or at once when the buffer reached `policy.max_bytes`)."""
        ticket = self.wal.append(events)
        if self._oldest_pending_ns is None:
            self._oldest_pending_ns = now_ns
        if self.wal.pending_bytes >= self.policy.max_bytes:
            self.commit()
        return ticket

    def commit_wait_ns(self, now_ns: int) -> int:
        """How long the pending batches may still wait for others to share their commit (the
        store's policy is the only group-commit policy: the writer actor sleeps this long)."""
        return self.policy.wait_ns(self.wal.pending_bytes, self._oldest_pending_ns, now_ns)

    def commit_if_due(self, now_ns: int) -> list[Ticket]:
        if self._oldest_pending_ns is not None and not self.commit_wait_ns(now_ns):
            return self.commit()
        return []

    def commit(self) -> list[Ticket]:
        self._oldest_pending_ns = None
        return self.wal.commit()

    @property
    def acked(self) -> int:
        """Highest acknowledged ticket number."""
        return self.wal.acked

    # -- read side --------------------------------------------------------------------------

    def streams(
        self,
        venue: str | None = None,
        symbol: str | None = None,
        families: Collection[str] | None = None,
    ) -> list[Stream]:
        only = StreamFilter(families, _one(venue), _one(symbol))
        return [s for s in self.wal.streams() if only.matches(s)]

    def iter_events(
        self,
        start_ns: int | None = None,
        end_ns: int | None = None,
        venue: str | None = None,
        symbol: str | None = None,
        types: Collection[str] | None = None,
        *,
        families: Collection[str] | None = None,
    ) -> Iterator[Event]:
        """Durable events with start_ns <= ts_recv < end_ns, merged across streams by ts_recv
        (stored order within a stream, ties by stream): a `Follower` from the start, filtered
        as it reads; `types` are event type names ("trade", ...); `families` leave the other
        streams unread. What becomes durable once the iteration started is left out."""
        only = StreamFilter(families, _one(venue), _one(symbol))
        keep = None
        if start_ns is not None or end_ns is not None or types is not None:
            keep = partial(_within, start_ns, end_ns, types)
        return _replay(self.wal, only, keep)

    def refresh(self, *, jsonl: bool = True, checkpoints: bool = True) -> None:
        """Bring the projections up to the durable end of the WAL (incrementally)."""
        self.parquet.refresh(self.wal)
        self.bars.refresh()
        if jsonl:
            self.jsonl.refresh(self.wal)
        if checkpoints:
            self.checkpoints.refresh(self.wal)

    def apply_retention(
        self,
        now_ns: int,
        *,
        max_age_ns: int | None = None,
        max_bytes: int | None = None,
        replica_hold_ns: int = REPLICA_HOLD_NS,
    ) -> list[str]:
        """Remove sealed WAL segments that every projection has consumed: those older than
        `max_age_ns`, then the oldest while the WAL is larger than `max_bytes`. The data lives
        on in the projections; a rebuild from the WAL then covers only what remains.
        Followers in other regions (their saved cursors) hold the segments they still need,
        but only those written in the last `replica_hold_ns`: a follower further behind
        re-bootstraps rather than fill this disk (PostgreSQL's max_slot_wal_keep_size)."""
        consumed = self._consumed()
        for stream, seq in self._replicas_consumed().items():
            written = self.wal.written_ns(stream, seq)
            held = written is not None and written >= now_ns - replica_hold_ns
            if held and seq < consumed.get(stream, 0):
                consumed[stream] = seq
        removed: list[str] = []
        for stream in self.wal.streams():
            if max_age_ns is not None:
                cut = now_ns - max_age_ns
                removed += self.wal.remove_sealed(stream, consumed.get(stream, 0), cut)
        if max_bytes is None:
            return removed
        sizes = {s: self.wal.segment_sizes(s) for s in self.wal.streams()}
        total = sum(size for segs in sizes.values() for _, size in segs)
        oldest = sorted(
            (self.fs.mtime_ns(path), stream, size)
            for stream, segs in sizes.items()
            for path, size in segs[:-1]
        )
        for _, stream, size in oldest:
            if total <= max_bytes:
                break
            gone = self.wal.remove_sealed(stream, consumed.get(stream, 0), None, limit=1)
            total -= size if gone else 0
            removed += gone
        return removed

    def _consumed(self) -> dict[Stream, int]:
        """Per stream, the position below which every projection that reads it has its data."""
        parquet, jsonl, ckpts = (state.positions for state in self._states().values())
        out = {}
        for stream in self.wal.streams():
            marks = [jsonl.get(stream, 0)]
            if stream.family != "status":
                marks.append(parquet.get(stream, 0))
            if stream.family == "book":
                marks.append(ckpts.get(stream, 0))
            out[stream] = min(marks)
        return out

    def _replicas_consumed(self) -> dict[Stream, int]:
        """Per stream, the lowest position a follower in another region has acknowledged."""
        folder = os.path.join(self.data_dir, FOLLOWERS_DIR)
        names = os.listdir(folder) if os.path.isdir(folder) else []
        out: dict[Stream, int] = {}
        for name in names:
            if name.startswith(REPLICA_CURSOR_PREFIX) and name.endswith(".pos"):
                held = FollowerState(os.path.join(folder, name)).load(Position.start()).as_dict()
                for stream in self.wal.streams():  # a stream it does not name: at 0
                    seq = held.get(stream, 0)
                    out[stream] = min(seq, out.get(stream, seq))
        return out

    def _states(self) -> dict[str, ProjectionState]:
        """The saved positions of the projections that read the WAL (bars read Parquet)."""
        roots = [self.parquet.root, self.jsonl.root, self.checkpoints.root]
        return {os.path.basename(root): ProjectionState.load(root) for root in roots}

    # -- damage -----------------------------------------------------------------------------

    def forget(self, stream: Stream, seq: int) -> None:
        """Every projection takes back what it holds of `stream` from `seq` on, because the log
        lost those records or is about to renumber them; the next refresh projects them again.
        What they take back goes aside (DATA_DIR/quarantine/projections), never away."""
        self.parquet.rewind(stream, seq, self.aside)
        self.bars.rewind(stream)
        self.jsonl.rewind(stream, seq, self.aside)
        self.checkpoints.rewind(stream, seq, self.aside)
        self.rewound.append((stream, seq))

    def projections_ahead(self) -> list[tuple[str, Stream, int, int]]:
        """(projection, stream, its position, the log's end) wherever a projection claims records
        the log does not hold (lost from the end of a stream, or a whole stream gone)."""
        ends = self.wal.positions()
        return [
            (name, stream, position, ends.get(stream, 0))
            for name, state in self._states().items()
            for stream, position in sorted(state.positions.items())
            if position > ends.get(stream, 0)
        ]

    def inspect(self) -> list[SegmentReport]:
        """Every segment of every stream, read whole (see `WAL.inspect`)."""
        return [report for stream in self.wal.streams() for report in self.wal.inspect(stream)]

    def repair(self) -> list[SegmentReport]:
        """Move the damage of every sealed segment aside (recovery did the newest ones), mark
        the seqs lost as known holes, and bring the projections up to date again."""
        repaired = [report for stream in self.wal.streams() for report in self.wal.repair(stream)]
        self.refresh()
        return repaired

    def problems(self) -> list[str]:
        """What recovery and the reads so far found wrong in the log, and what was done."""
        return self.wal.problems()

    def drop_projections(self) -> None:
        """Remove every projection; `refresh()` then rebuilds them from the WAL."""
        for root in (self.parquet.root, self.jsonl.root, self.checkpoints.root):
            drop(root)

    def query(self, sql: str, export_dir: str | None = None) -> QueryResult:
        """Run one read-only SQL statement over the views (projections UNION the unprojected WAL
        tail); with `export_dir` (outside the data directory) a `COPY ... TO` into it as well."""
        statement = one_statement(sql, READ_ONLY if export_dir is None else EXPORTING)
        return run_query(self.connect(export_dir), statement)

    def connect(self, export_dir: str | None = None) -> duckdb.DuckDBPyConnection:
        """A locked-down DuckDB connection with the views, for several queries over one
        snapshot; files outside the projection (or `export_dir`) are out of its reach."""
        return open_views(self.wal, self.data_dir, export_dir)

    def book_at(
        self,
        venue: str,
        symbol: str,
        at_ns: int,
        *,
        depth: int | None = None,
        use_checkpoints: bool = True,
    ) -> BookAt:
        stream = Stream(venue, "book", symbol)
        return book_at(
            self.wal, self.checkpoints, stream, at_ns, depth=depth, use_checkpoints=use_checkpoints
        )

    def tail(self, stream: Stream, records: int) -> Iterator[Event]:
        """The last `records` durable events of one stream, in stored order (cheap: no scan)."""
        return map(from_msgpack, self._tail_payloads(stream, records))

    def trade_ids_tail(self, stream: Stream, records: int) -> list[tuple[int, int]]:
        """(trade_id or 0, ts_event) of the venue's own trades (not aggregates) among the
        stream's last `records` events, in stored order: where a restarted provider resumes.
        Only those fields are decoded (whole trades, Decimals and all, cost most of a restart)."""
        out = []
        for trade in map(_TRADE_IDS.decode, self._tail_payloads(stream, records)):
            if type(trade) is _TradeIds and not trade.aggregate:  # no id (0): resumed by time
                out.append((trade.trade_id or 0, trade.ts_event))
        return out

    def _tail_payloads(self, stream: Stream, records: int) -> Iterator[bytes]:
        """The payloads of the stream's last `records` durable events, in stored order."""
        end = self.wal.positions().get(stream, 0)
        return (payload for _seq, payload in self.wal.read(stream, max(0, end - records)))

    def close(self) -> None:
        self.wal.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _one(value: str | None) -> tuple[str, ...] | None:
    return None if value is None else (value,)


def _within(
    start_ns: int | None, end_ns: int | None, types: Collection[str] | None, event: Event
) -> bool:
    return (
        (start_ns is None or event.ts_recv >= start_ns)
        and (end_ns is None or event.ts_recv < end_ns)
        and (types is None or type_name(event) in types)
    )


def _replay(wal: WAL, only: StreamFilter, keep: Callable[[Event], bool] | None) -> Iterator[Event]:
    """Follow from the start up to what was durable when the iteration started."""
    ends = wal.positions()
    with Follower(wal, Position.start(), only, keep) as follower:
        while batch := follower.next_batch(REPLAY_BATCH):
            if all(seq <= ends.get(s, 0) for s, seq in batch.position.seqs):
                yield from batch.events
            else:
                yield from (e for (s, seq), e in batch.items if seq < ends.get(s, 0))
