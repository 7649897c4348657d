"""Event store benchmarks, each a ratio against a baseline measured in the same run.

1. Durable appends/s (Store.append: route, identity keys, dedup, msgpack encode, CRC32C, write,
   fsync) vs raw os.write+fsync of the bytes that append wrote (read back from its segment), with
   the same batch sizes, timed batch by batch in alternation (see `bench_appends`); also with
   the batches encoded by their producer, as the writer actor receives them.
2. The seed's OHLCV 1 h query over N trades through `Store.query` (partitioned Parquet UNION the
   WAL tail) vs DuckDB over one plain Parquet file of the same rows; plus the same plain file with
   prices as text cast at query time (the alternative to DECIMAL(38,18) columns).
3. `book --at` from the nearest checkpoint vs a full replay of the book stream.
4. Bytes on disk per trade: WAL, Parquet (zstd), JSONL projection.

Usage: python benchmarks/store.py [--trades N] [--deltas M] [--dir DIR] [--appends-only]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence

import duckdb

from mdc.events import Event
from mdc.store import EncodedBatch, Store, encode_batch
from mdc.store import records as rec
from mdc.store.synth import book_stream, trades
from mdc.sync import BookSync, SequenceRules

OHLCV = """
SELECT time_bucket('1 hour', timestamp) AS bucket, symbol,
       first(price ORDER BY timestamp) AS open, max(price) AS high, min(price) AS low,
       last(price ORDER BY timestamp) AS close, sum(size) AS volume
FROM {table} GROUP BY bucket, symbol ORDER BY bucket, symbol
"""


def best_of(n: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def dir_bytes(path: str, suffix: str = "") -> int:
    return sum(
        os.path.getsize(os.path.join(d, f))
        for d, _, files in os.walk(path)
        for f in files
        if f.endswith(suffix)
    )


def wal_frames(wal_dir: str) -> list[bytes]:
    """The records of the one segment under `wal_dir`, byte for byte as the WAL wrote them."""
    (seg,) = (os.path.join(d, f) for d, _, files in os.walk(wal_dir) for f in files if
              f.endswith(".seg"))  # fmt: skip
    with open(seg, "rb") as f:
        frames = [rec.encode(payload) for payload in rec.scan(f, rec.ScanEnd())]
        f.seek(0)
        assert b"".join(frames) == f.read()
    return frames


def bench_appends(base: str, rows: list[str]) -> None:
    """Store.append vs raw write+fsync of the very bytes append writes, paired batch by batch
    (alternating which side goes first) so both see the same moment of a shared, noisy disk.
    Twice: batches of events (the store encodes them), and batches as the writer actor receives
    them, encoded by their producer (`encode_batch`, untimed: it runs in the producer's process,
    where it replaces the pickling of the events that sending them to the writer took before)."""
    rng = random.Random(1)
    for batch, batches in ((1, 2000), (10, 1000), (100, 400), (1000, 100)):
        evs = trades(rng, batch * batches, first_id=rng.getrandbits(40))
        chunks = [evs[i : i + batch] for i in range(0, len(evs), batch)]
        dry_dir = os.path.join(base, f"dry{batch}")
        with Store.open(dry_dir) as store:
            for chunk in chunks:
                store.append(chunk)
        payloads = wal_frames(dry_dir)
        assert len(payloads) == len(chunks)  # one record per batch
        encoded = [encode_batch(chunk) for chunk in chunks]
        for mode, inputs in (("", chunks), (", encoded by the producer", encoded)):
            name = f"{batch}{'e' if mode else ''}"
            wal_s, raw_s = _alternate(base, name, inputs, payloads)
            n = len(evs)
            rows.append(
                f"| durable appends, batch {batch}{mode} | {n / wal_s:,.0f} ev/s | raw write+fsync "
                f"{n / raw_s:,.0f} ev/s | **{raw_s / wal_s:.0%}** (goal >= 70%) |"
            )


def _alternate(
    base: str,
    name: str,
    inputs: Sequence[list[Event]] | Sequence[EncodedBatch],
    payloads: list[bytes],
) -> tuple[float, float]:
    """Seconds of `Store.append` per input and of raw write+fsync of its bytes, alternating."""
    wal_dir = os.path.join(base, f"wal{name}")
    fd = os.open(os.path.join(base, f"raw{name}"), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    wal_s = raw_s = 0.0
    with Store.open(wal_dir) as store:
        for i, (chunk, data) in enumerate(zip(inputs, payloads, strict=True)):
            for side in (0, 1) if i % 2 else (1, 0):
                start = time.perf_counter()
                if side:
                    store.append(chunk)
                    wal_s += time.perf_counter() - start
                else:
                    os.write(fd, data)
                    os.fsync(fd)
                    raw_s += time.perf_counter() - start
    os.close(fd)
    assert wal_frames(wal_dir) == payloads  # the raw side wrote exactly the WAL's bytes
    return wal_s, raw_s


def bench_ohlcv(base: str, n: int, rows: list[str]) -> Store:
    data_dir = os.path.join(base, "ohlcv")
    store = Store.open(data_dir, book_sync=lambda v, s: BookSync(v, s, SequenceRules()))
    rng = random.Random(2)
    start = time.perf_counter()
    chunk = 100_000
    for i in range(0, n, chunk):
        part = trades(rng, min(chunk, n - i), first_id=i + 1, start_ns=1_700_000_000 * 10**9
                      + i * 1_000_000, step_ns=500_000)  # fmt: skip
        for j in range(0, len(part), 10_000):
            store.append(part[j : j + 10_000])
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    store.refresh(checkpoints=False)
    refresh_s = time.perf_counter() - start
    plain = os.path.join(base, "plain.parquet")
    text = os.path.join(base, "text.parquet")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    glob = os.path.join(store.parquet.root, "trades", "**", "*.parquet")
    src = f"read_parquet('{glob}', hive_partitioning = false)"
    con.execute(f"COPY (SELECT * FROM {src}) TO '{plain}' (FORMAT parquet, COMPRESSION zstd)")
    con.execute(
        f"COPY (SELECT * REPLACE (price::VARCHAR AS price, size::VARCHAR AS size) FROM {src}) "
        f"TO '{text}' (FORMAT parquet, COMPRESSION zstd)"
    )
    ours = best_of(3, lambda: store.query(OHLCV.format(table="trades")))
    views = store.connect()
    ours_open = best_of(3, lambda: views.execute(OHLCV.format(table="trades")).fetchall())
    base_s = best_of(3, lambda: con.execute(OHLCV.format(table=f"'{plain}'")).fetchall())
    as_text = OHLCV.format(table=f"(SELECT * REPLACE (price::DECIMAL(38,18) AS price, "
                           f"size::DECIMAL(38,18) AS size) FROM '{text}')")  # fmt: skip
    text_s = best_of(3, lambda: con.execute(as_text).fetchall())
    same = (
        store.query(OHLCV.format(table="trades")).rows
        == con.execute(OHLCV.format(table=f"'{plain}'")).fetchall()
    )
    rows.append(
        f"| OHLCV 1h over {n:,} trades (mdc query) | {ours * 1000:.0f} ms | plain Parquet "
        f"{base_s * 1000:.0f} ms | **{ours / base_s:.2f}x** (goal <= 1.5x); same rows: {same} |"
    )
    rows.append(
        f"| same, on an open `Store.connect()` | {ours_open * 1000:.0f} ms | plain Parquet "
        f"{base_s * 1000:.0f} ms | **{ours_open / base_s:.2f}x** |"
    )
    rows.append(
        f"| same, prices stored as text + cast | {text_s * 1000:.0f} ms | DECIMAL(38,18) "
        f"{base_s * 1000:.0f} ms | {text_s / base_s:.2f}x (why DECIMAL columns) |"
    )
    rows.append(f"| load {n:,} trades (durable, 10k batches) | {n / load_s:,.0f} ev/s | "
                f"Parquet+bars+JSONL refresh {n / refresh_s:,.0f} ev/s | |")  # fmt: skip
    wal_b = dir_bytes(os.path.join(data_dir, "wal"), ".seg") / n
    pq_b = dir_bytes(os.path.join(store.parquet.root, "trades"), ".parquet") / n
    jl_b = dir_bytes(store.jsonl.root, ".jsonl") / n
    rows.append(
        f"| bytes on disk per trade | Parquet zstd {pq_b:.1f} B | JSONL {jl_b:.1f} B, WAL "
        f"{wal_b:.1f} B | **{jl_b / pq_b:.1f}x** smaller than JSONL |"
    )
    return store


def bench_book(base: str, m: int, rows: list[str]) -> None:
    data_dir = os.path.join(base, "book")
    with Store.open(data_dir, book_sync=lambda v, s: BookSync(v, s, SequenceRules())) as store:
        rng = random.Random(3)
        evs = book_stream(rng, m, step_ns=10_000_000)
        for i in range(0, len(evs), 10_000):
            store.append(evs[i : i + 10_000])
        store.refresh(jsonl=False)
        instants = [rng.randint(evs[m // 2].ts_recv, evs[-1].ts_recv) for _ in range(5)]

        def at(use: bool) -> None:
            for t in instants:
                store.book_at("binance", "BTC-USDT", t, depth=10, use_checkpoints=use)

        fast, full = best_of(2, lambda: at(True)), best_of(2, lambda: at(False))
        checks = all(
            store.book_at("binance", "BTC-USDT", t, use_checkpoints=True).bids
            == store.book_at("binance", "BTC-USDT", t, use_checkpoints=False).bids
            for t in instants[:2]
        )
    rows.append(
        f"| book --at over {m:,} deltas (avg of 5 instants) | checkpoint+replay "
        f"{fast / 5 * 1000:.1f} ms | full replay {full / 5 * 1000:.0f} ms | "
        f"**{full / fast:.0f}x** faster; equal: {checks} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trades", type=int, default=10_000_000)
    parser.add_argument("--deltas", type=int, default=300_000)
    parser.add_argument("--dir", default=None, help="scratch directory (default: a temp dir)")
    parser.add_argument("--appends-only", action="store_true", help="run only benchmark 1")
    args = parser.parse_args()
    base = tempfile.mkdtemp(prefix="mdc-bench-", dir=args.dir)
    rows = ["| what | mdc | baseline | ratio |", "|---|---|---|---|"]
    try:
        bench_appends(base, rows)
        if not args.appends_only:
            bench_ohlcv(base, args.trades, rows).close()
            bench_book(base, args.deltas, rows)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
