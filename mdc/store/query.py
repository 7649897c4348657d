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
import os
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import duckdb
import orjson
import pyarrow as pa
import pyarrow.dataset as ds

from mdc.errors import CollectorError
from mdc.store.bars import COLUMNS, BarsProjection, bars_sql, connect, read_parquet
from mdc.store.parquet import TABLES, ParquetProjection, table_rows, to_arrow
from mdc.store.wal import WAL

VENUE_BAR_COLUMNS = COLUMNS.replace("start", "timestamp AS start").replace(
    "source", "'venue' AS source"
)


READ_ONLY = frozenset({duckdb.StatementType.SELECT})
"""Statement kinds a query may be. Not EXPLAIN: `EXPLAIN ANALYZE COPY ...` runs the COPY."""
EXPORTING = READ_ONLY | {duckdb.StatementType.COPY}


class QueryError(CollectorError):
    """DuckDB refused the SQL (syntax, unknown table or column, type error, file access)."""


class QueryRefused(QueryError):
    """The SQL is not one statement of a kind we run; refused before anything executes."""


@dataclass(frozen=True, slots=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple]


class _ParquetScans:
    """FROM-clauses over projection files. By path (DuckDB's reader, the fast one) the files
    become paths DuckDB may open, and a COPY could overwrite them; so when COPY may run they go
    in as Arrow datasets instead, which DuckDB can only read."""

    def __init__(self, con: duckdb.DuckDBPyConnection, *, by_path: bool) -> None:
        self.con, self.by_path = con, by_path
        self.paths: list[str] = []

    def scan(self, table: str, files: list[str]) -> str:
        if self.by_path:
            self.paths.extend(files)
            return read_parquet(files)
        self.con.register(f"_parquet_{table}", ds.dataset(files, format="parquet"))
        return f"_parquet_{table}"


def open_views(wal: WAL, data_dir: str, export_dir: str | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the store's views defined, then locked down (see `_lock`)."""
    allowed = [] if export_dir is None else [outside_store(export_dir, data_dir)]
    con = connect()
    scans = _ParquetScans(con, by_path=export_dir is None)
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
        files = parquet.files(spec.name)
        if files:
            sources.insert(0, f"SELECT * FROM {scans.scan(spec.name, files)}")
        con.execute(f"CREATE VIEW {spec.name} AS {' UNION ALL BY NAME '.join(sources)}")
    _bars_view(con, data_dir, parquet, scans)
    _lock(con, scans.paths, allowed)
    return con


def _lock(con: duckdb.DuckDBPyConnection, readable: list[str], writable: list[str]) -> None:
    """No file access from SQL but reading `readable` files and reading or writing under the
    `writable` directories, for good (`lock_configuration`). Spilling is off too: its temp
    directory would otherwise be open to SQL. Views are bound at query time, hence last."""
    con.execute("SET allowed_paths = $1", [readable])
    con.execute("SET allowed_directories = $1", [writable])
    con.execute("SET temp_directory = ''")
    con.execute("SET python_enable_replacements = false")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def outside_store(export_dir: str, data_dir: str) -> str:
    """`export_dir` resolved; refused when it is, holds or lies in the data directory."""
    wanted, store = os.path.realpath(export_dir), os.path.realpath(data_dir)
    if not os.path.isdir(wanted):
        raise QueryRefused(f"export directory {export_dir!r} does not exist")
    if os.path.commonpath([wanted, store]) in (wanted, store):
        raise QueryRefused(
            f"export directory {export_dir!r} overlaps the data directory {data_dir!r}; "
            "pick one outside it"
        )
    return wanted


def one_statement(sql: str, kinds: frozenset[duckdb.StatementType]) -> duckdb.Statement:
    """The single statement of `sql`, if it is one of `kinds`; else a one-line QueryRefused."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryError(_first_line(exc)) from exc
    if len(statements) != 1:
        given = "no SQL statement given" if not statements else f"{len(statements)} given"
        raise QueryRefused(f"give exactly one SQL statement ({given})")
    (statement,) = statements
    if statement.type not in kinds:
        copy = duckdb.StatementType.COPY
        hint = "; COPY ... TO needs an export directory" if statement.type is copy else ""
        raise QueryRefused(
            f"{statement.type.name} statements are not allowed: queries are read-only{hint}"
        )
    return statement


def _bars_view(
    con: duckdb.DuckDBPyConnection, data_dir: str, parquet: ParquetProjection, scans: _ParquetScans
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
    files = parquet.files("bars")
    if files:
        sources.append(
            f"SELECT {COLUMNS} FROM {scans.scan('bars', files)} "
            f"WHERE {key.format('start', 'NOT IN')}"
        )
    con.execute(f"CREATE VIEW bars AS {' UNION ALL '.join(sources)}")


def run_query(con: duckdb.DuckDBPyConnection, statement: duckdb.Statement) -> QueryResult:
    try:
        cursor = con.execute(statement)
        columns = [d[0] for d in cursor.description or ()]
        return QueryResult(columns, cursor.fetchall())
    except duckdb.Error as exc:
        raise QueryError(_first_line(exc)) from exc


def _first_line(exc: duckdb.Error) -> str:
    return str(exc).strip().splitlines()[0]


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
