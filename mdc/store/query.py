"""SQL over the store with DuckDB: views `trades`, `quotes`, `book_deltas`, `bars` (and
`venue_bars`) read the Parquet projection UNION the WAL records it has not consumed yet, so every
result includes everything durable at the moment the query starts.

`bars` holds bars computed from trades (source 'trades', 1 s / 1 min / 1 h) and the venue's own
bars (source 'venue'); partitions whose trades changed since the bars projection last ran are
computed on the fly from `trades`, so bars are as current as trades.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import duckdb
import orjson
import pyarrow as pa

from mdc.errors import CollectorError
from mdc.store.bars import COLUMNS, BarsProjection, bars_sql, connect, read_parquet
from mdc.store.parquet import TABLES, ParquetProjection, table_rows, to_arrow
from mdc.store.wal import WAL

VENUE_BAR_COLUMNS = COLUMNS.replace("start", "timestamp AS start").replace(
    "source", "'venue' AS source"
)


class QueryError(CollectorError):
    """DuckDB refused the SQL (syntax, unknown table or column, type error)."""


@dataclass(frozen=True, slots=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple]


def open_views(wal: WAL, data_dir: str) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the store's views defined."""
    con = connect()
    parquet = ParquetProjection(data_dir)
    state = parquet.state()
    for spec in TABLES.values():
        records = [
            rec
            for stream, end in sorted(wal.positions().items())
            if stream.family == spec.family
            for rec in wal.read_events(stream, state.positions.get(stream, 0), end)
        ]
        con.register(f"_tail_{spec.name}", to_arrow(spec, table_rows(spec, records)))
        sources = [f"SELECT * FROM _tail_{spec.name}"]
        glob = parquet.glob(spec.name)
        if glob is not None:
            sources.insert(0, f"SELECT * FROM {read_parquet(glob)}")
        con.execute(f"CREATE VIEW {spec.name} AS {' UNION ALL BY NAME '.join(sources)}")
    _bars_view(con, wal, data_dir, parquet)
    return con


def _bars_view(
    con: duckdb.DuckDBPyConnection, wal: WAL, data_dir: str, parquet: ParquetProjection
) -> None:
    stale, _ = BarsProjection(data_dir, parquet).stale()
    live = {(p.date, p.venue, p.symbol) for p in stale}
    live |= set(
        con.execute(
            "SELECT DISTINCT strftime(timestamp, '%Y-%m-%d'), venue, symbol FROM _tail_trades"
        ).fetchall()
    )
    dates, venues, symbols = (
        (list(col) for col in zip(*live, strict=True)) if live else ([], [], [])
    )
    con.register(
        "_live_parts",
        pa.table(
            {
                "date": pa.array(dates, pa.string()),
                "venue": pa.array(venues, pa.string()),
                "symbol": pa.array(symbols, pa.string()),
            }
        ),
    )
    key = (
        "(strftime({}, '%Y-%m-%d'), venue, symbol) {} (SELECT date, venue, symbol FROM _live_parts)"
    )
    sources = [
        f"SELECT {COLUMNS} FROM ({bars_sql('trades WHERE ' + key.format('timestamp', 'IN'))})",
        f"SELECT {VENUE_BAR_COLUMNS} FROM venue_bars",
    ]
    glob = parquet.glob("bars")
    if glob is not None:
        sources.append(
            f"SELECT {COLUMNS} FROM {read_parquet(glob)} WHERE {key.format('start', 'NOT IN')}"
        )
    con.execute(f"CREATE VIEW bars AS {' UNION ALL '.join(sources)}")


def run_query(con: duckdb.DuckDBPyConnection, sql: str) -> QueryResult:
    try:
        cursor = con.execute(sql)
        columns = [d[0] for d in cursor.description or ()]
        return QueryResult(columns, cursor.fetchall())
    except duckdb.Error as exc:
        raise QueryError(str(exc).strip().splitlines()[0]) from exc


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value else "0"
    return str(value)


def _json_value(value: object) -> object:
    if value is None or isinstance(value, bool | int | str):
        return value
    return _text(value)


def format_result(result: QueryResult, fmt: str) -> str:
    """Render as `table` (aligned text), `csv` or `json` (one object per row; decimals as text)."""
    if fmt == "json":
        return "".join(
            orjson.dumps(dict(zip(result.columns, map(_json_value, row), strict=True))).decode()
            + "\n"
            for row in result.rows
        )
    cells = [[_text(v) for v in row] for row in result.rows]
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows(cells)
        return out.getvalue()
    return _table([result.columns, *cells])


def _table(lines: Sequence[Sequence[str]]) -> str:
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))] if lines[0] else []
    rendered = [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    ]
    rendered.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(rendered) + "\n"
