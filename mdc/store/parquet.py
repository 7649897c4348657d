"""Parquet projection: one table per event kind, partitioned by date (of ts_event, UTC), venue and
symbol, zstd-compressed; the analytics layer DuckDB queries.

Prices and sizes are DECIMAL(38,18) (exact for any venue decimal with at most 18 fractional digits
and 20 integer digits; anything else is refused, never rounded). `timestamp` is ts_event as
TIMESTAMPTZ (ns); `ts_event`/`ts_recv` keep the exact ints; `wal_seq` is the record's position in
its stream, so rows sort back into stored order. Files are named after the first WAL seq they
hold: re-running a refresh interrupted by a crash overwrites the same files instead of adding rows.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

import pyarrow as pa
import pyarrow.parquet as pq

from mdc.errors import CollectorError
from mdc.events import Bar, BookDelta, BookSnapshot, Event, Quote, Trade
from mdc.store.projection import ProjectionState, pending_ranges
from mdc.store.streams import Stream
from mdc.store.wal import WAL

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


class UnrepresentableValue(CollectorError):
    """A price or size that DECIMAL(38,18) cannot hold exactly."""


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
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(spec.schema)
    try:
        arrays = [pa.array(col, f.type) for col, f in zip(columns, spec.schema, strict=True)]
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise UnrepresentableValue(f"{spec.name}: {exc}") from exc
    return pa.Table.from_arrays(arrays, schema=spec.schema)


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


class ParquetProjection:
    def __init__(self, data_dir: str, chunk_records: int = 500_000) -> None:
        self.root = os.path.join(data_dir, "parquet")
        self.chunk_records = chunk_records

    def state(self) -> ProjectionState:
        return ProjectionState.load(self.root)

    def refresh(self, wal: WAL) -> set[Partition]:
        """Project every unconsumed record; returns the partitions that changed."""
        state = self.state()
        touched: set[Partition] = set()
        for stream, start, stop in pending_ranges(wal, state, tuple(TABLE_OF_FAMILY)):
            for first in range(start, stop, self.chunk_records):
                last = min(stop, first + self.chunk_records)
                touched |= self._write_chunk(stream, first, wal.read_events(stream, first, last))
                state.positions[stream] = last
                state.save(self.root)
        return touched

    def _write_chunk(
        self, stream: Stream, first: int, records: Iterable[tuple[int, Event]]
    ) -> set[Partition]:
        spec = TABLE_OF_FAMILY[stream.family]
        by_day: dict[str, list[Row]] = defaultdict(list)
        for seq, event in records:
            rows = by_day[day(event.ts_event)]
            rows.extend(spec.rows(seq, event))
        touched = set()
        for date, rows in sorted(by_day.items()):
            if not rows:
                continue
            part = Partition(spec.name, date, stream.venue, stream.symbol)
            directory = part.path(self.root)
            os.makedirs(directory, exist_ok=True)
            path = os.path.join(directory, f"{first:020d}.parquet")
            pq.write_table(to_arrow(spec, rows), path + ".tmp", compression="zstd")
            os.replace(path + ".tmp", path)
            touched.add(part)
        return touched

    def glob(self, table: str) -> str | None:
        """The file glob of a table, or None while it has no files."""
        directory = os.path.join(self.root, table)
        for _, _, files in os.walk(directory):
            if any(f.endswith(".parquet") for f in files):
                return os.path.join(directory, "**", "*.parquet")
        return None
