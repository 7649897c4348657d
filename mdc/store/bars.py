"""OHLCV bars (1 s, 1 min, 1 h) computed from the trades projection, one file per partition.

A bar's open/close are the first/last trade by (ts_event, stored order): deterministic, so a
rebuilt partition is identical. A partition is recomputed whole whenever its trades change; the
projection's state records, per trades stream, the WAL position its bars include.
"""

from __future__ import annotations

import glob
import os
from urllib.parse import quote, unquote

import duckdb

from mdc.store.parquet import ParquetProjection, Partition
from mdc.store.projection import ProjectionState
from mdc.store.streams import Stream

INTERVALS_S = (1, 60, 3600)
COLUMNS = "venue, symbol, interval_s, start, open, high, low, close, volume, trade_count, source"


def bars_sql(source: str) -> str:
    """Bars of every interval over `source` (any relation with the trades columns)."""
    return " UNION ALL ".join(
        f"""SELECT venue, symbol, {s}::BIGINT AS interval_s,
                time_bucket(INTERVAL '{s} seconds', timestamp) AS start,
                first(price ORDER BY ts_event, wal_seq) AS open, max(price) AS high,
                min(price) AS low, last(price ORDER BY ts_event, wal_seq) AS close,
                sum(size) AS volume, count(*) AS trade_count, 'trades' AS source
            FROM {source} GROUP BY ALL"""
        for s in INTERVALS_S
    )


def connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return con


class BarsProjection:
    def __init__(self, data_dir: str, trades: ParquetProjection) -> None:
        self.root = os.path.join(data_dir, "parquet", "bars")
        self.trades = trades

    def stale(self) -> tuple[set[Partition], dict[Stream, int]]:
        """Trades partitions whose bars lag the trades projection, and the positions to record."""
        done = ProjectionState.load(self.root).positions
        target = {s: p for s, p in self.trades.state().positions.items() if s.family == "trades"}
        stale = set()
        trades_root = os.path.join(self.trades.root, "trades")
        for directory, _, files in os.walk(trades_root):
            seqs = [int(f[:-8]) for f in files if f.endswith(".parquet")]
            if not seqs:
                continue
            part = _partition_of(os.path.relpath(directory, trades_root))
            stream = Stream(part.venue, "trades", part.symbol)
            if max(seqs) >= done.get(stream, 0) and done.get(stream, 0) < target.get(stream, 0):
                stale.add(part)
        return stale, target

    def refresh(self) -> set[Partition]:
        stale, target = self.stale()
        con = connect()
        for part in sorted(stale):
            src = os.path.join(part.path(self.trades.root), "*.parquet")
            out = Partition("bars", part.date, part.venue, part.symbol).path(self.trades.root)
            os.makedirs(out, exist_ok=True)
            path = os.path.join(out, "bars.parquet")
            query = f"SELECT * FROM ({bars_sql(read_parquet(src))}) ORDER BY ALL"
            con.execute(
                f"COPY ({query}) TO {sql_literal(path + '.tmp')} (FORMAT parquet, COMPRESSION zstd)"
            )
            os.replace(path + ".tmp", path)
        state = ProjectionState.load(self.root)
        state.positions.update(target)
        state.save(self.root)
        return stale

    def rewind(self, stream: Stream) -> None:
        """Forget a trades stream's bars (the trades projection took rows back): they are all
        computed again from its trades at the next refresh."""
        state = ProjectionState.load(self.root)
        if stream not in state.positions:
            return
        venue, symbol = quote(stream.venue, safe=""), quote(stream.symbol, safe="")
        pattern = os.path.join(self.root, "*", f"venue={venue}", f"symbol={symbol}", "*.parquet")
        for path in glob.glob(pattern):
            os.remove(path)
        del state.positions[stream]
        state.save(self.root)


def _partition_of(relpath: str) -> Partition:
    date, venue, symbol = (unquote(p.split("=", 1)[1]) for p in relpath.split(os.sep))
    return Partition("trades", date, venue, symbol)


def read_parquet(paths: str | list[str]) -> str:
    """A DuckDB `read_parquet` over a glob or a list of files; the key=value directories are
    layout, not columns."""
    literal = (
        sql_literal(paths) if isinstance(paths, str) else f"[{', '.join(map(sql_literal, paths))}]"
    )
    return f"read_parquet({literal}, hive_partitioning = false)"


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
