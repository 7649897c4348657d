"""Parquet projection: one table per event kind, partitioned by date (of ts_event, UTC), venue and
symbol, zstd-compressed; the analytics layer DuckDB queries.

Prices and sizes are DECIMAL(38,18) (exact for any venue decimal with at most 18 fractional digits
and 20 integer digits; anything else is refused, never rounded). `timestamp` is ts_event as
TIMESTAMPTZ (ns); `ts_event`/`ts_recv` keep the exact ints; `wal_seq` is the record's position in
its stream, so rows sort back into stored order.

A refresh follows the WAL (`follow.py`) from the saved positions, in batches of at most
`chunk_records` events; each stream's part of a batch becomes one file per date, named after the
first WAL seq it holds, and the positions are saved after each batch. A refresh interrupted by a
crash may have written files past the saved positions, and the next one may cut that stream into
other batches (what became durable since joins the merge): so while `_refreshing` marks a refresh
not finished, each stream's files from its saved position on are removed before it is written
again, and a rerun never adds rows twice.
"""

from __future__ import annotations

import glob
import logging
import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mdc.events import Bar, BookDelta, BookSnapshot, Event, Quote, Trade
from mdc.store.follow import Follower, Position
from mdc.store.projection import Aside, ProjectionState, atomic_write
from mdc.store.streams import Stream, StreamFilter
from mdc.store.wal import WAL

log = logging.getLogger("mdc.store")

REFRESHING = "_refreshing"  # in the projection's root while a refresh has not finished
READ_BATCH = 512  # events a refresh takes from its follower at a time (it holds their rows)

DEC = pa.decimal128(38, 18)
TS = pa.timestamp("ns", tz="UTC")
_COMMON = [
    ("venue", pa.string()),
    ("symbol", pa.string()),
    ("timestamp", TS),
    ("ts_event", pa.int64()),
    ("ts_recv", pa.int64()),
    ("wal_seq", pa.int64()),
]
Row = tuple


@dataclass(frozen=True, slots=True)
class TableSpec:
    name: str
    family: str
    schema: pa.Schema
    rows: Callable[[int, Event], Iterator[Row]]


def _head(seq: int, e: Event) -> Row:
    return (e.venue, e.symbol, e.ts_event, e.ts_event, e.ts_recv, seq)


def _trade_rows(seq: int, e: Event) -> Iterator[Row]:
    if isinstance(e, Trade):
        yield (*_head(seq, e), e.price, e.size, e.side, e.trade_id, e.exchange, e.aggregate)


def _quote_rows(seq: int, e: Event) -> Iterator[Row]:
    if isinstance(e, Quote):
        yield (*_head(seq, e), e.bid_price, e.bid_size, e.ask_price, e.ask_size, e.update_id)


def _book_rows(seq: int, e: Event) -> Iterator[Row]:
    if isinstance(e, BookDelta):
        kind, first, last = "delta", e.first_update_id, e.last_update_id
    elif isinstance(e, BookSnapshot):
        kind, first, last = "snapshot", e.update_id, e.update_id
    else:
        return
    head = _head(seq, e)
    for side, levels in (("bid", e.bids), ("ask", e.asks)):
        for price, size in levels:
            yield (*head, kind, side, price, size, first, last)


def _bar_rows(seq: int, e: Event) -> Iterator[Row]:
    if isinstance(e, Bar):
        yield (
            *_head(seq, e),
            e.interval_s,
            e.open,
            e.high,
            e.low,
            e.close,
            e.volume,
            e.trade_count,
            e.vwap,
        )


def _schema(*fields: tuple[str, pa.DataType]) -> pa.Schema:
    return pa.schema(_COMMON + list(fields))


TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in (
        TableSpec(
            "trades",
            "trades",
            _schema(
                ("price", DEC),
                ("size", DEC),
                ("side", pa.string()),
                ("trade_id", pa.int64()),
                ("exchange", pa.string()),
                ("aggregate", pa.bool_()),
            ),
            _trade_rows,
        ),
        TableSpec(
            "quotes",
            "quotes",
            _schema(
                ("bid_price", DEC),
                ("bid_size", DEC),
                ("ask_price", DEC),
                ("ask_size", DEC),
                ("update_id", pa.int64()),
            ),
            _quote_rows,
        ),
        TableSpec(
            "book_deltas",
            "book",
            _schema(
                ("kind", pa.string()),
                ("side", pa.string()),
                ("price", DEC),
                ("size", DEC),
                ("first_update_id", pa.int64()),
                ("last_update_id", pa.int64()),
            ),
            _book_rows,
        ),
        TableSpec(
            "venue_bars",
            "bars",
            _schema(
                ("interval_s", pa.int64()),
                ("open", DEC),
                ("high", DEC),
                ("low", DEC),
                ("close", DEC),
                ("volume", DEC),
                ("trade_count", pa.int64()),
                ("vwap", DEC),
            ),
            _bar_rows,
        ),
    )
}
TABLE_OF_FAMILY = {t.family: t for t in TABLES.values()}


def to_arrow(spec: TableSpec, rows: list[Row]) -> pa.Table:
    """The rows as a table; a row the columns cannot hold (a price beyond DECIMAL(38,18),
    stored before the parsers refused such values) is left out with a warning, so one bad row
    never breaks every query or the projection. It stays in the WAL (`mdc replay` shows it)."""
    try:
        return _table(spec, rows)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        good = [row for row in rows if _fits(spec, row)]
        log.warning(
            "%s: %d stored row(s) cannot be represented in the table's columns and are left "
            "out of SQL and Parquet (they stay in the WAL; `mdc replay` shows them)",
            spec.name,
            len(rows) - len(good),
        )
        return _table(spec, good)


def _table(spec: TableSpec, rows: list[Row]) -> pa.Table:
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(spec.schema)
    arrays = [pa.array(col, f.type) for col, f in zip(columns, spec.schema, strict=True)]
    return pa.Table.from_arrays(arrays, schema=spec.schema)


def _fits(spec: TableSpec, row: Row) -> bool:
    try:
        _table(spec, [row])
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return False
    return True


def table_rows(spec: TableSpec, records: Iterable[tuple[int, Event]]) -> list[Row]:
    return [row for seq, event in records for row in spec.rows(seq, event)]


def day(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns // 1_000_000_000, UTC).strftime("%Y-%m-%d")


@dataclass(frozen=True, slots=True, order=True)
class Partition:
    table: str
    date: str
    venue: str
    symbol: str

    def path(self, root: str) -> str:
        return os.path.join(
            root,
            self.table,
            f"date={self.date}",
            f"venue={quote(self.venue, safe='')}",
            f"symbol={quote(self.symbol, safe='')}",
        )


@dataclass(slots=True)
class _Chunk:
    """One stream's part of a refresh batch: the first seq it holds, its rows per date."""

    first: int
    by_day: defaultdict[str, list[Row]] = field(default_factory=lambda: defaultdict(list))


class ParquetProjection:
    def __init__(self, data_dir: str, chunk_records: int = 500_000) -> None:
        self.root = os.path.join(data_dir, "parquet")
        self.chunk_records = chunk_records

    def state(self) -> ProjectionState:
        return ProjectionState.load(self.root)

    def refresh(self, wal: WAL) -> set[Partition]:
        """Project every unconsumed record; returns the partitions that changed."""
        state = self.state()
        marker = os.path.join(self.root, REFRESHING)
        unfinished = os.path.exists(marker)
        if unfinished:
            for stream, end in sorted(wal.positions().items()):
                start = state.positions.get(stream, 0)
                if stream.family in TABLE_OF_FAMILY and start < end:
                    self._remove_from(stream, start)
        touched: set[Partition] = set()
        only = StreamFilter(families=tuple(TABLE_OF_FAMILY))
        with Follower(wal, Position.of(state.positions), only) as follower:
            while chunks := self._next_chunks(follower):
                if not unfinished:
                    atomic_write(marker, b"")
                    unfinished = True
                for stream, chunk in sorted(chunks.items()):
                    touched |= self._write_chunk(stream, chunk)
                state.advance(follower.position.as_dict())
                state.save(self.root)
            if state.advance(follower.position.as_dict()):  # past holes at the end
                state.save(self.root)
        if unfinished:
            os.remove(marker)
        return touched

    def _next_chunks(self, follower: Follower) -> dict[Stream, _Chunk]:
        """The rows of the next `chunk_records` events, per stream. The follower's batches are
        smaller, so what is held is their rows, not the events (as one batch would)."""
        chunks: dict[Stream, _Chunk] = {}
        taken = 0
        while taken < self.chunk_records:
            batch = follower.next_batch(min(READ_BATCH, self.chunk_records - taken))
            if not batch:
                break
            for (stream, seq), event in batch.items:
                chunk = chunks.get(stream) or chunks.setdefault(stream, _Chunk(seq))
                rows = TABLE_OF_FAMILY[stream.family].rows(seq, event)
                chunk.by_day[day(event.ts_event)].extend(rows)
            taken += len(batch)
        return chunks

    def _write_chunk(self, stream: Stream, chunk: _Chunk) -> set[Partition]:
        """One file per date, named after the chunk's first seq."""
        spec = TABLE_OF_FAMILY[stream.family]
        touched = set()
        for date, rows in sorted(chunk.by_day.items()):
            if not rows:
                continue
            part = Partition(spec.name, date, stream.venue, stream.symbol)
            directory = part.path(self.root)
            os.makedirs(directory, exist_ok=True)
            path = os.path.join(directory, f"{chunk.first:020d}.parquet")
            _write_chunk_file(to_arrow(spec, rows), path)
            touched.add(part)
        return touched

    def _remove_from(self, stream: Stream, seq: int) -> None:
        """Remove the stream's files named from `seq` on: left by an unfinished refresh past its
        saved position, they hold records the log still has, and are written again now."""
        for path in self._stream_files(stream):
            if int(os.path.basename(path)[:20]) >= seq:
                os.remove(path)

    def rewind(self, stream: Stream, seq: int, aside: Aside) -> None:
        """Take back the stream's rows from `seq` on: files named from `seq` on go aside whole,
        a file that straddles it is copied aside and rewritten without them."""
        state = self.state()
        if stream.family not in TABLE_OF_FAMILY or state.positions.get(stream, 0) <= seq:
            return
        for path in self._stream_files(stream):
            if int(os.path.basename(path)[:20]) >= seq:
                aside.move(path)
            else:
                _cut(path, seq, aside)
        state.positions[stream] = seq
        state.save(self.root)

    def _stream_files(self, stream: Stream) -> list[str]:
        """The stream's Parquet files, every date."""
        spec = TABLE_OF_FAMILY[stream.family]
        venue, symbol = quote(stream.venue, safe=""), quote(stream.symbol, safe="")
        pattern = os.path.join(self.root, spec.name, "*", f"venue={venue}", f"symbol={symbol}")
        return sorted(glob.glob(os.path.join(pattern, "*.parquet")))

    def files(self, table: str) -> list[str]:
        """A table's Parquet files now (a fixed list, so a query names exactly what it reads)."""
        return sorted(
            os.path.join(directory, name)
            for directory, _, names in os.walk(os.path.join(self.root, table))
            for name in names
            if name.endswith(".parquet")
        )


def _cut(path: str, seq: int, aside: Aside) -> None:
    """Rewrite a chunk file without its rows from `seq` on (the original is copied aside first)."""
    table = pq.read_table(path)
    keep = table.filter(pc.less(table["wal_seq"], seq))
    if keep.num_rows == table.num_rows:
        return
    if not keep.num_rows:
        aside.move(path)
        return
    aside.copy(path)
    _write_chunk_file(keep, path)


def _write_chunk_file(table: pa.Table, path: str) -> None:
    """Written aside then renamed, so a query never reads half a chunk file."""
    pq.write_table(table, path + ".tmp", compression="zstd")
    os.replace(path + ".tmp", path)
