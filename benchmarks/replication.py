"""Replication: a follower's apply rate against copying the same WAL bytes over loopback TCP, its
lag at a steady load, and the RPO of asynchronous replication at a failover.

1. Apply rate. A primary store of `--events` synthetic events (trades and book deltas, eight
   streams) is served by a process of its own (`mdc.v1.ReplicationService` over the store, as
   a stopped primary is served); this process follows it with `mdc replicate`'s follower
   (`ReplicaFollower`, until caught up) into an empty store: checked frames, appended, one
   fsync per chunk of about 1 MiB. Baseline: the same process receives the same WAL segment
   files from a plain TCP sender process and writes them to disk with one fsync per MiB, the
   same durability. Ratio = baseline seconds / follower seconds (goal: at least 0.5x). The
   follower's copy is then compared with the primary, record for record.
2. Lag at a steady load. `mdc run --local` collects the embedded simulator (four venues) and
   `mdc replicate` follows it; every 0.25 s for `--lag-seconds` the follower's status gives its
   lag in seconds (primary clock at read vs follower durable), and its store's newest receive
   time gives the data's age there (end to end: venue frame received by the primary, to durable
   on the follower). p50/p99/max (goal: p99 at most 1 s).
3. RPO at a failover. The same pair runs `--rpo-seconds`, then the primary's process group is
   killed (SIGKILL, no drain); what it had made durable and the follower never got is the
   recovery point: events, and the receive-time span they cover. Then the failover itself is
   timed (RTO after the decision): `mdc promote`, and the promoted store's collector serving
   its log. `--trials` times.

Usage: python benchmarks/replication.py [--events N] [--lag-seconds S] [--rpo-seconds S]
[--trials N]. 127.0.0.1 only. The last line is
`ratio=<R> lag_p99_s=<L> age_p99_s=<A> rpo_events_max=<E> rpo_s_max=<S> rto_s_max=<T>`.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Run as a script, this directory would shadow the `serve` package: drop it from sys.path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from actors.waiting import wait_until_sync  # noqa: E402
from chaos.replication import MDC, Primary, Replica, log_differences, served  # noqa: E402
from mdc.store import Store  # noqa: E402
from mdc.store.synth import book_stream, trades  # noqa: E402
from serve.deployment import free_port  # noqa: E402
from serve.replication.follower import FollowerConfig, ReplicaFollower  # noqa: E402

KEY = "bench"
MIB = 1 << 20
SYMBOLS = (
    ("binance", "BTC-USDT"),
    ("binance", "ETH-USDT"),
    ("kraken", "BTC-USD"),
    ("coinbase", "BTC-USD"),
)
NAME = struct.Struct("<HQ")
BATCHES = 50


def build_primary(data_dir: Path, events: int) -> int:
    """A store of about `events` events in eight streams (trades and book deltas of four
    instruments), appended in 50 commits; returns its WAL bytes."""
    rng = random.Random(7)
    per = max(1, events // (2 * len(SYMBOLS) * BATCHES))
    books = {s: book_stream(rng, per * BATCHES, venue=s[0], symbol=s[1]) for s in SYMBOLS}
    with Store.open(str(data_dir)) as store:
        for batch in range(BATCHES):
            start = 1_700_000_000_000_000_000 + batch * 10**9
            for venue, symbol in SYMBOLS:
                first = 1 + batch * per
                store.append(
                    trades(rng, per, venue=venue, symbol=symbol, first_id=first, start_ns=start)
                )
                store.append(books[venue, symbol][batch * per : (batch + 1) * per])
            store.commit()
    return sum(p.stat().st_size for p in (data_dir / "wal").rglob("*.seg"))


def _serve_store(data_dir: str, port: int, ready) -> None:
    with served(Path(data_dir), KEY, port):
        ready.set()
        signal.sigwait({signal.SIGTERM})


def _send_files(data_dir: str, port: int, ready) -> None:
    """The baseline's sender: every segment file, named, over one TCP connection."""
    with socket.create_server(("127.0.0.1", port)) as server:
        ready.set()
        conn, _ = server.accept()
        with conn:
            for path in sorted(Path(data_dir, "wal").rglob("*.seg")):
                name = str(path.relative_to(data_dir)).encode()
                data = path.read_bytes()
                conn.sendall(NAME.pack(len(name), len(data)) + name)
                conn.sendall(data)


def _receive_exactly(conn: socket.socket, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = conn.recv(min(left, MIB))
        if not chunk:
            raise ConnectionError("the sender closed early")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def receive_files(port: int, out: Path) -> None:
    """The baseline's receiver: write each file as it comes, fsync every MiB and at its end."""
    with socket.create_connection(("127.0.0.1", port)) as conn:
        while header := conn.recv(NAME.size, socket.MSG_WAITALL):
            name_len, size = NAME.unpack(header)
            path = out / _receive_exactly(conn, name_len).decode()
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "wb") as f:
                left = size
                while left:
                    piece = _receive_exactly(conn, min(left, MIB))
                    f.write(piece)
                    f.flush()
                    os.fsync(f.fileno())
                    left -= len(piece)


def _in_process(target, *args):
    """A sender in a process of its own, ready before the clock starts."""
    ready = mp.Event()
    proc = mp.Process(target=target, args=(*args, ready), daemon=True)
    proc.start()
    if not ready.wait(60):
        raise RuntimeError("the sender did not start")
    return proc


class _CaughtUp:
    """The follower's stderr: notes when it says it caught up."""

    def __init__(self) -> None:
        self.at: float | None = None

    def write(self, text: str) -> None:
        if "caught up" in text and self.at is None:
            self.at = time.perf_counter()

    def flush(self) -> None:
        pass


def follower_copy(target: str, out: Path) -> float:
    """Seconds until `mdc replicate`'s follower holds the whole primary (projections after)."""
    config = FollowerConfig(
        target, str(out), exit_when_caught_up=True, refresh_s=1e9, progress_s=1e9, api_key=KEY
    )
    clock = _CaughtUp()
    follower = ReplicaFollower(config, err=clock)  # type: ignore[arg-type]
    started = time.perf_counter()
    code = asyncio.run(follower.run(asyncio.Event()))
    if code != 0 or clock.at is None:
        raise RuntimeError(f"the follower did not catch up (exit {code})")
    return clock.at - started


def apply_rate(work: Path, events: int) -> dict:
    primary = work / "primary"
    size = build_primary(primary, events)
    with Store.open(str(primary), readonly=True) as store:
        stored = sum(store.wal.positions().values())
    port = free_port()
    sender = _in_process(_send_files, str(primary), port)
    started = time.perf_counter()
    receive_files(port, work / "raw")
    raw_s = time.perf_counter() - started
    sender.join(30)
    port = free_port()
    server = _in_process(_serve_store, str(primary), port)
    try:
        follow_s = follower_copy(f"127.0.0.1:{port}", work / "follower")
    finally:
        server.terminate()
        server.join(30)
    differences = log_differences(primary, work / "follower")
    if differences:
        raise RuntimeError(f"the follower's copy differs: {differences[:3]}")
    return {"events": stored, "bytes": size, "raw_s": raw_s, "follow_s": follow_s}


class Pair:
    """`mdc run --local` (the primary) and `mdc replicate` (the follower) as processes."""

    def __init__(self, work: Path) -> None:
        self.primary = Primary(work / "primary", free_port(), KEY)
        self.primary_dir = self.primary.data_dir
        self.replica = Replica(self.primary.target, work / "follower", KEY).start()
        wait_until_sync(lambda: self.replica.status().get("ends"), 60, "the follower's first")

    def stop(self) -> None:
        self.primary.stop()
        self.replica.stop()


def newest_ts_recv(data_dir: Path) -> int:
    """The newest receive time of a venue frame stored (trades, quotes, books: bars and status
    carry other times)."""
    with Store.open(str(data_dir), readonly=True) as store:
        streams = store.streams(families=("trades", "quotes", "book"))
        return max((e.ts_recv for s in streams for e in store.tail(s, 1)), default=0)


def lag_at_load(work: Path, seconds: float) -> dict:
    pair = Pair(work)
    lags, ages, events = [], [], 0
    try:
        time.sleep(3.0)  # the simulator's connections settle
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            status = pair.replica.status()
            lags.append(status.get("lag_seconds") or 0.0)
            newest = newest_ts_recv(pair.replica.data_dir)  # first: opening takes a while
            ages.append((time.time_ns() - newest) / 1e9)
            events = sum(status.get("ends", {}).values())
            time.sleep(0.25)
    finally:
        pair.stop()
    return {"lags": lags, "ages": ages, "events": events, "seconds": seconds}


def rpo_at_failover(work: Path, seconds: float) -> dict:
    pair = Pair(work)
    try:
        time.sleep(seconds)
        pair.primary.kill()
        time.sleep(1.0)  # whatever was in flight reaches the follower, or never will
    finally:
        pair.stop()
    with Store.open(str(pair.primary_dir), readonly=True) as store:
        primary = store.wal.positions()
    with Store.open(str(pair.replica.data_dir), readonly=True) as store:
        follower = store.wal.positions()
    lost = sum(max(0, end - follower.get(s, 0)) for s, end in primary.items())
    span = newest_ts_recv(pair.primary_dir) - newest_ts_recv(pair.replica.data_dir)
    rto = promote_and_serve(pair.replica.data_dir)
    return {
        "events": lost,
        "seconds": max(0, span) / 1e9,
        "stored": sum(primary.values()),
        "rto_s": rto,
    }


def promote_and_serve(data_dir: Path) -> float:
    """The operator's part of a failover, timed: `mdc promote`, then the new primary's
    collector (`mdc run --local`) up and serving its log (detection is not included)."""
    started = time.monotonic()
    subprocess.run([*MDC, "promote", "--data-dir", str(data_dir)], check=True, capture_output=True)
    promoted = Primary(data_dir, free_port(), KEY)  # returns once it serves its log
    took = time.monotonic() - started
    promoted.stop()
    return took


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=800_000)
    parser.add_argument("--lag-seconds", type=float, default=30.0)
    parser.add_argument("--rpo-seconds", type=float, default=8.0)
    parser.add_argument("--trials", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        print(f"1/3 apply rate: {args.events:,} events...", file=sys.stderr)
        rate = apply_rate(work / "rate", args.events)
        print(f"2/3 lag at a steady load: {args.lag_seconds:g} s...", file=sys.stderr)
        lag = lag_at_load(work / "lag", args.lag_seconds)
        rpos = []
        for trial in range(args.trials):
            print(f"3/3 RPO at a failover: trial {trial + 1}/{args.trials}...", file=sys.stderr)
            rpos.append(rpo_at_failover(work / f"rpo{trial}", args.rpo_seconds))
    for line in report(rate, lag, rpos):
        print(line)


def _spread(values: list[float]) -> str:
    return f"p50 {_pct(values, 0.5):.3f} s, p99 {_pct(values, 0.99):.3f} s, max {max(values):.3f} s"


def report(rate: dict, lag: dict, rpos: list[dict]) -> list[str]:
    ratio = rate["raw_s"] / rate["follow_s"]
    mib = rate["bytes"] / MIB
    lines = [
        "| copy | events | MiB | seconds | events/s | MiB/s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, secs in (
        ("plain TCP, fsync/MiB", rate["raw_s"]),
        ("mdc replicate", rate["follow_s"]),
    ):
        rates = f"{rate['events'] / secs:,.0f} | {mib / secs:.1f}"
        lines.append(f"| {name} | {rate['events']:,} | {mib:.1f} | {secs:.2f} | {rates} |")
    lags, ages = lag["lags"], lag["ages"]
    lines += [
        "",
        f"apply rate: plain seconds / follower seconds = {ratio:.2f}x (goal >= 0.5x)",
        f"lag, {lag['seconds']:g} s at a steady load ({len(lags)} samples, "
        f"{lag['events']:,} events replicated; goal p99 <= 1 s):",
        f"  follower's status lag: {_spread(lags)}",
        f"  data age on the follower: {_spread(ages)}",
    ]
    for i, rpo in enumerate(rpos, 1):
        lines.append(
            f"RPO trial {i}: {rpo['events']} of {rpo['stored']:,} durable events not "
            f"replicated, {rpo['seconds']:.3f} s of data"
        )
    rtos = [r["rto_s"] for r in rpos]
    lines.append(
        f"RTO after the decision (mdc promote, then the new primary serving its log): "
        f"{min(rtos):.1f}-{max(rtos):.1f} s"
    )
    worst = max(r["events"] for r in rpos), max(r["seconds"] for r in rpos)
    lines.append(
        f"ratio={ratio:.2f} lag_p99_s={_pct(lags, 0.99):.3f} age_p99_s={_pct(ages, 0.99):.3f} "
        f"rpo_events_max={worst[0]} rpo_s_max={worst[1]:.3f} rto_s_max={max(rtos):.1f}"
    )
    return lines


if __name__ == "__main__":
    main()
