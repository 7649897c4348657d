"""Live distribution: mdc's gRPC fan-out vs a plain grpc.aio server, and durable-to-subscriber
latency.

Throughput, for 1, 10 and 100 subscribers: every subscriber holds a live SubscribeTrades stream
of a real store (three trade streams). The events are appended and fsync'd first, unseen; then
the writer's tails are handed to the server at once, so the server's follower reads and fans out
the whole backlog as fast as it can (what is measured is the hub, the outboxes, the encoding and
gRPC, not the disk). Baseline: a plain grpc.aio server in its own process streaming the same
events, pre-built as the same EventBatch messages (256 events each), to the same number of
streams. Both are read by the same client process (one channel per subscriber, messages parsed
with EventBatch.FromString) and timed from the first byte asked to the last event received.
Ratio = mdc's events/s delivered (all subscribers) / the plain server's.

Latency, 10 subscribers below saturation: batches of 25 trades appended (fsync'd) every 10 ms
for `--latency-seconds`; after each append the tails go to the server (as the writer's long poll
answers after each commit). Latency = receive time at the subscriber - the time the append
returned (durable). Tails travel over a pipe here, where `mdc run` uses a Ray long poll (about a
millisecond more).

Usage: python benchmarks/distribution.py [--quick] [--latency-seconds S]
Prints a markdown table; the last line is
`ratio_1=<R> ratio_10=<R> ratio_100=<R> p50_ms=<P> p99_ms=<Q>`. 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

# Run as a script, this directory would shadow the `serve` package: drop it from sys.path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import grpc  # noqa: E402

from mdc.distribution import encode  # noqa: E402
from mdc.store import Store  # noqa: E402
from mdc.store.streams import Stream  # noqa: E402
from mdc.store.synth import trades  # noqa: E402
from mdc.v1 import market_data_pb2 as pb  # noqa: E402

KEY = "bench"
SYMBOLS = (("binance", "BTC-USDT"), ("binance", "ETH-USDT"), ("kraken", "BTC-USD"))
MESSAGE_EVENTS = 256
PLAIN_METHOD = "/bench.Plain/Stream"
MDC_METHOD = "/mdc.v1.MarketDataService/SubscribeTrades"


def _trades(n: int, first_id: int, start_ns: int) -> list:
    per = n // len(SYMBOLS)
    out = []
    for i, (venue, symbol) in enumerate(SYMBOLS):
        out += trades(
            random.Random(i), per, venue=venue, symbol=symbol, start_ns=start_ns, first_id=first_id
        )
    return sorted(out, key=lambda e: e.ts_recv)


# -- processes --------------------------------------------------------------------------------


class _PipeTails:
    """The writer's tails, sent over a pipe after each append (a hub.TailSource)."""

    def __init__(self, conn) -> None:
        self._conn = conn
        self._version = 0
        self._tails: dict = {}

    async def next(self, since: int):
        while True:
            if since != self._version:
                return self._version, self._tails
            if await asyncio.to_thread(self._conn.poll, 0.5):
                while self._conn.poll():
                    self._tails = self._conn.recv()
                self._version += 1


def _serve_mdc(data_dir: str, conn, ready) -> None:
    from serve.auth import KeyRing
    from serve.streaming.grpc_server import MarketDataServer

    async def main() -> None:
        server = MarketDataServer(data_dir, _PipeTails(conn), KeyRing([KEY]), capacity=1_000_000)
        bound = await server.start("127.0.0.1", 0)
        ready.put(bound.port)
        await asyncio.Event().wait()

    asyncio.run(main())


def _serve_plain(messages: list[bytes], ready) -> None:
    async def stream(_request, _context):
        for message in messages:
            yield message

    async def main() -> None:
        server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
        handler = grpc.unary_stream_rpc_method_handler(stream)
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler("bench.Plain", {"Stream": handler}),)
        )
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        ready.put(port)
        await asyncio.Event().wait()

    asyncio.run(main())


@dataclass(frozen=True)
class _Clients:
    target: str
    method: str
    k: int
    expected: int  # events each stream waits for
    record: bool = False  # keep (trade_id, receive ns) of every event


def _subscribers(run: _Clients, attached, results) -> None:
    """`run.k` streams; reports (first ask ns, last event ns, stamps if `run.record`)."""
    target, method, k, expected, record = run.target, run.method, run.k, run.expected, run.record

    async def one(stamps: list) -> tuple[int, int]:
        async with grpc.aio.insecure_channel(target) as channel:
            call = channel.unary_stream(method, response_deserializer=pb.EventBatch.FromString)(
                pb.SubscribeRequest().SerializeToString(), metadata=(("x-api-key", KEY),)
            )
            started, got, last = time.time_ns(), 0, 0
            async for batch in call:
                if not batch.events:
                    attached.put(1)  # mdc's first message: subscribed
                    continue
                last = time.time_ns()
                got += len(batch.events)
                if record:
                    stamps += [(e.trade.trade_id, last) for e in batch.events]
                if got >= expected:
                    return started, last
        return started, last

    async def main() -> None:
        stamps: list = []
        spans = await asyncio.gather(*(one(stamps) for _ in range(k)))
        results.put((min(s for s, _ in spans), max(e for _, e in spans), stamps))

    asyncio.run(main())


# -- runs -------------------------------------------------------------------------------------


def _start(ctx, target_fn, args) -> tuple[mp.Process, int]:
    ready = ctx.Queue()
    proc = ctx.Process(target=target_fn, args=(*args, ready), daemon=True)
    proc.start()
    return proc, ready.get(timeout=60)


def _mdc_throughput(ctx, k: int, events: int) -> float:
    with tempfile.TemporaryDirectory() as data_dir:
        store = Store.open(data_dir)
        store.append(_trades(30, 1, 1_700_000_000_000_000_000))
        parent, child = ctx.Pipe()
        parent.send(store.wal.tails())
        server, port = _start(ctx, _serve_mdc, (data_dir, child))
        attached, results = ctx.Queue(), ctx.Queue()
        clients = ctx.Process(
            target=_subscribers,
            args=(_Clients(f"127.0.0.1:{port}", MDC_METHOD, k, events), attached, results),
        )
        clients.start()
        for _ in range(k):
            attached.get(timeout=60)
        backlog = _trades(events, 1000, 1_700_000_100_000_000_000)
        for i in range(0, len(backlog), 5000):
            store.append(backlog[i : i + 5000])
        revealed = time.time_ns()
        parent.send(store.wal.tails())
        _, done, _ = results.get(timeout=600)
        clients.join(30)
        server.terminate()
        store.close()
    return k * events / ((done - revealed) / 1e9)


def _plain_throughput(ctx, k: int, events: int) -> float:
    backlog = _trades(events, 1000, 1_700_000_100_000_000_000)
    messages = []
    for i in range(0, len(backlog), MESSAGE_EVENTS):
        chunk = backlog[i : i + MESSAGE_EVENTS]
        entries = [encode.framed(e, Stream(e.venue, "trades", e.symbol), 0) for e in chunk]
        messages.append(encode.batch_bytes(entries, "kgGBt2JpbmFuY2UrdHJhZGVz"))
    server, port = _start(ctx, _serve_plain, (messages,))
    attached, results = ctx.Queue(), ctx.Queue()
    clients = ctx.Process(
        target=_subscribers,
        args=(_Clients(f"127.0.0.1:{port}", PLAIN_METHOD, k, events), attached, results),
    )
    clients.start()
    started, done, _ = results.get(timeout=600)
    clients.join(30)
    server.terminate()
    return k * events / ((done - started) / 1e9)


def _latency(ctx, seconds: float, k: int = 10) -> list[float]:
    batches = int(seconds * 100)
    with tempfile.TemporaryDirectory() as data_dir:
        store = Store.open(data_dir)
        store.append(_trades(30, 1, 1_700_000_000_000_000_000))
        parent, child = ctx.Pipe()
        parent.send(store.wal.tails())
        server, port = _start(ctx, _serve_mdc, (data_dir, child))
        attached, results = ctx.Queue(), ctx.Queue()
        per_batch = 24  # 8 per symbol
        clients = ctx.Process(
            target=_subscribers,
            args=(
                _Clients(f"127.0.0.1:{port}", MDC_METHOD, k, batches * per_batch, True),
                attached,
                results,
            ),
        )
        clients.start()
        for _ in range(k):
            attached.get(timeout=60)
        durable: dict[int, int] = {}
        pause = time.monotonic()
        for b in range(batches):
            batch = _trades(per_batch, 1000 + b * per_batch, time.time_ns())
            store.append(batch)
            now = time.time_ns()
            durable.update((e.trade_id, now) for e in batch)
            parent.send(store.wal.tails())
            pause += 0.01
            time.sleep(max(0.0, pause - time.monotonic()))
        _, _, stamps = results.get(timeout=120)
        clients.join(30)
        server.terminate()
        store.close()
    # ids repeat across the three symbols in a batch: all three share one durable time
    return [(recv - durable[tid]) / 1e6 for tid, recv in stamps if tid in durable]


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs (a smoke test)")
    parser.add_argument("--latency-seconds", type=float, default=10.0)
    args = parser.parse_args()
    ctx = mp.get_context("spawn")
    sizes = {1: 60_000, 10: 21_000, 100: 3_000}  # multiples of the three streams
    if args.quick:
        sizes = {k: n // 10 for k, n in sizes.items()}
    print("| subscribers | events each | mdc events/s | plain events/s | ratio |")
    print("|---:|---:|---:|---:|---:|")
    ratios = {}
    for k, n in sizes.items():
        plain = _plain_throughput(ctx, k, n)
        ours = _mdc_throughput(ctx, k, n)
        ratios[k] = ours / plain
        print(f"| {k} | {n:,} | {ours:,.0f} | {plain:,.0f} | {ratios[k]:.2f}x |", flush=True)
    seconds = 2.0 if args.quick else args.latency_seconds
    lat = _latency(ctx, seconds)
    p50, p99 = _pct(lat, 50), _pct(lat, 99)
    print()
    print(f"durable-to-subscriber latency, 10 subscribers, 2,400 events/s, {len(lat):,} samples:")
    print(f"p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {max(lat):.2f} ms")
    print(
        f"ratio_1={ratios[1]:.2f} ratio_10={ratios[10]:.2f} ratio_100={ratios[100]:.2f} "
        f"p50_ms={p50:.2f} p99_ms={p99:.2f}"
    )


if __name__ == "__main__":
    main()
