"""Serving cost and freshness: Ray Serve's paths vs plain uvicorn vs in-process onnxruntime.

Every HTTP variant serves the same `serve.app.build_app` (same models, same auth, same JSON) and
is driven by the same client: httpx.AsyncClient, 8 and then 64 concurrent workers, `--requests`
predictions with explicit feature vectors after a warm-up. Variants:
  (a) the default path (`mdc run`/`mdc serve`): Serve's direct ingress, the replica answering on
      the port itself; and Serve's HTTP proxy (`--proxy`), at 8 clients;
  (b) in-process `LoadedModel.predict_checked` (onnxruntime), one row per call, no HTTP;
  (c) plain uvicorn running build_app in its own process (the baseline; ratios are against it).
Then freshness: `mdc run` on the simulator at its default rate, one client asking for live
predictions of binance BTC-USDT back to back; for every trade of that instrument received while
it asked, the time from the trade's receive time at the provider to the first response whose
`ts_recv` (newest event behind the vector) is at or after it. And cold starts: `mdc serve`
launch -> first prediction (the old figure, 6.4 s, beside it), `mdc run` launch -> first live
prediction.

The plain app runs beside Ray, and each Serve run is paired with a plain run just before it
(`--rounds` rounds of the default path): the machine's noise hits both sides of every ratio.

Usage: python benchmarks/serve.py [--quick] [--requests N] [--rounds R] [--fresh-seconds S]
       [--no-cold] [--serve-env K=V ...]
Prints markdown tables; the last line is
`default_rps_ratio=<R> default_p99_ratio=<P> freshness_p99_ms=<F>` (default path vs plain at 8
clients). 127.0.0.1 only; free ports.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import itertools
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np

# Run as a script, this file's directory comes first on sys.path and its name would shadow the
# `serve` package; drop that entry (nothing else lives in benchmarks/).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

KEY = "bench-key"
PLAIN = "(c) plain uvicorn + build_app"
CLIENTS = (8, 64)
OLD_COLD_START_S = 6.4
FRESH_INSTRUMENT = ("binance", "BTC-USDT")
NS = 1_000_000_000
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Result:
    name: str
    clients: int
    p50_ms: float
    p99_ms: float
    per_s: float
    failures: int = 0


def rows(n_features: int, count: int, seed: int = 7) -> list[list[float]]:
    return np.random.default_rng(seed).normal(size=(count, n_features)).round(6).tolist()


def summarise(name: str, clients: int, latencies_s: list[float], wall_s: float, failures=0):
    ms = np.asarray(latencies_s) * 1000
    p50, p99 = np.percentile(ms, [50, 99])
    return Result(name, clients, float(p50), float(p99), len(latencies_s) / wall_s, failures)


async def drive(url: str, bodies: list, requests: int, clients: int) -> tuple:
    """`clients` workers share one request budget; returns (latencies, wall seconds, failures)."""
    latencies: list[float] = []
    failures = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(
        base_url=url, headers={"X-API-Key": KEY}, limits=limits, timeout=30
    ) as c:
        warmup = iter(range(max(100, clients * 4)))

        async def warm() -> None:
            for i in warmup:
                response = await c.post("/v1/predict", json={"features": bodies[i % len(bodies)]})
                response.raise_for_status()

        await asyncio.gather(*(warm() for _ in range(clients)))
        counter = iter(range(requests))

        async def worker() -> None:
            nonlocal failures
            for i in counter:
                started = time.perf_counter()
                response = await c.post("/v1/predict", json={"features": bodies[i % len(bodies)]})
                latencies.append(time.perf_counter() - started)
                failures += response.status_code != 200

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        wall = time.perf_counter() - started
    return latencies, wall, failures


def bench_http(name: str, url: str, bodies: list, requests: int, clients: int) -> Result:
    latencies, wall, failures = asyncio.run(drive(url, bodies, requests, clients))
    return summarise(name, clients, latencies, wall, failures)


def bench_in_process(models_dir: str, bodies: list[list[float]], requests: int) -> Result:
    from models.runtime import discover_models

    model = discover_models(models_dir)[0]
    matrices = [model.check_rows(b) for b in bodies]
    latencies = []
    started = time.perf_counter()
    for i in range(requests):
        t0 = time.perf_counter()
        model.predict_checked(matrices[i % len(matrices)])
        latencies.append(time.perf_counter() - t0)
    return summarise("(b) in-process onnxruntime", 1, latencies, time.perf_counter() - started)


def wait_http(url: str, timeout_s: float, proc: subprocess.Popen) -> None:
    from actors.waiting import wait_until_sync
    from serve.deployment import healthy

    def up() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        return healthy(url)

    wait_until_sync(up, timeout_s, f"{url}/healthz", every_s=0.05)


@contextlib.contextmanager
def plain_server(models_dir: str) -> Iterator[str]:
    """uvicorn + build_app in a child process (its own GIL, like Serve's replica)."""
    from serve.deployment import free_port

    port = free_port()
    cmd = [sys.executable, __file__, "--plain-server", str(port), "--models", models_dir]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=os.environ | {"MDC_API_KEYS": KEY})
    try:
        wait_http(f"http://127.0.0.1:{port}", 60, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def run_plain_server(port: int, models_dir: str) -> None:
    import uvicorn

    from serve.app import build_app
    from serve.auth import KeyRing
    from serve.deployment import ServeSpec
    from serve.features_source import NoFeatureSource

    spec = ServeSpec(keys=KeyRing.from_env(), models_dir=models_dir)
    app = build_app(spec.router(), NoFeatureSource(), spec.keys)
    uvicorn.run(app, host="127.0.0.1", port=port, access_log=False, log_level="warning")


@dataclass(frozen=True)
class Pair:
    """One round: the plain app and a Serve path at the same client count, back to back."""

    plain: Result
    served: Result

    @property
    def rps_ratio(self) -> float:
        return self.served.per_s / self.plain.per_s

    @property
    def p99_ratio(self) -> float:
        return self.served.p99_ms / self.plain.p99_ms


def bench_paths(args: argparse.Namespace, bodies: list, requests: int) -> list[Pair]:
    """With Ray up and the plain app beside it, alternate plain and Serve runs: `--rounds`
    rounds of the default path at every client count, then one of the proxy at 8."""
    import ray

    from actors.runtime import init_ray
    from serve.auth import KeyRing
    from serve.deployment import (
        ServeOptions,
        ServePath,
        ServeSpec,
        free_port,
        start_serve,
        stop_serve,
    )

    init_ray(num_cpus=2)
    spec = ServeSpec(keys=KeyRing((KEY,)), models_dir=args.models)
    env = dict(item.split("=", 1) for item in args.serve_env)
    plans = (
        (ServePath.DIRECT, CLIENTS, args.rounds, "(a) Ray Serve, default (direct ingress)"),
        (ServePath.PROXY, CLIENTS[:1], 1, "(a) Ray Serve, HTTP proxy (--proxy)"),
    )
    pairs = []
    try:
        with plain_server(args.models) as plain_url:
            for path, clients, rounds, name in plans:
                options = ServeOptions(path, controller_env=env)
                served = start_serve(spec, "127.0.0.1", free_port(), options)
                if served.path is not path:
                    raise RuntimeError(f"{path.value} did not start: {served.fallback_reason}")
                try:
                    for _ in range(rounds):
                        for n in clients:
                            plain = bench_http(PLAIN, plain_url, bodies, requests, n)
                            pairs.append(
                                Pair(plain, bench_http(name, served.url, bodies, requests, n))
                            )
                            print(
                                f"  {n} clients: {pairs[-1].rps_ratio:.2f}x req/s, "
                                f"{pairs[-1].p99_ratio:.2f}x p99 ({name})",
                                flush=True,
                            )
                finally:
                    stop_serve()
    finally:
        ray.shutdown()
    return pairs


def cold_start(models_dir: str, features: list[float]) -> float:
    """Seconds from launching `mdc serve` (default path) to its first 200 prediction."""
    from serve.deployment import free_port

    port = free_port()
    cmd = [sys.executable, "-m", "mdc.cli", "serve", "--port", str(port), "--models", models_dir]
    env = os.environ | {"MDC_API_KEYS": KEY}
    env.pop("RAY_ADDRESS", None)
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    try:
        body = {"features": features}
        first_prediction(proc, f"http://127.0.0.1:{port}", KEY, body)
        return time.perf_counter() - started
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)


def first_prediction(proc: subprocess.Popen, url: str, key: str | Path, body: dict) -> None:
    """Wait (120 s at most) for a 200 prediction; `key` may be a file the server writes."""
    from actors.waiting import wait_until_sync

    def answered() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        if isinstance(key, Path) and not key.exists():
            return False
        headers = {"X-API-Key": key.read_text().strip() if isinstance(key, Path) else key}
        try:
            response = httpx.post(url + "/v1/predict", json=body, headers=headers, timeout=2)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    wait_until_sync(answered, 120, f"a prediction from {url}", every_s=0.05)


@dataclass(frozen=True)
class Freshness:
    cold_start_s: float
    responses: int
    trades: int
    p50_ms: float
    p99_ms: float
    max_ms: float


def freshness(seconds: float) -> Freshness:
    """`mdc run` on the simulator; see the module docstring."""
    from serve.deployment import free_port

    venue, symbol = FRESH_INSTRUMENT
    with tempfile.TemporaryDirectory(prefix="mdc-fresh-") as data_dir:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        cmd = [sys.executable, "-m", "mdc.cli", "run", "--data-dir", data_dir]
        cmd += ["--api-port", str(port), "--metrics-port", "0", "--duration", str(seconds + 120)]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MDC_API", "RAY_ADDR"))}
        body = {"venue": venue, "symbol": symbol}
        started = time.perf_counter()
        with open(Path(data_dir) / "run.log", "wb") as log:
            proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=log)
            try:
                key_file = Path(data_dir) / "api-key"
                first_prediction(proc, url, key_file, body)
                cold = time.perf_counter() - started
                seen = poll_live(url, key_file.read_text().strip(), body, seconds)
            finally:
                proc.send_signal(signal.SIGINT)
                proc.wait(timeout=180)
        received = trades_received(data_dir, venue, symbol, seen[0][0], seen[-1][0] - NS)
    delays = delays_ms(seen, received)
    p50, p99 = np.percentile(delays, [50, 99])
    return Freshness(cold, len(seen), len(delays), float(p50), float(p99), float(max(delays)))


def poll_live(url: str, key: str, body: dict, seconds: float) -> list[tuple[int, int]]:
    """(arrival time, ts_recv) of back-to-back live predictions for `seconds`."""
    seen = []
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=10) as client:
        while time.monotonic() < deadline:
            response = client.post("/v1/predict", json=body)
            arrived = time.time_ns()
            if response.status_code == 200:
                seen.append((arrived, response.json()["ts_recv"]))
    if not seen:
        raise RuntimeError("no live prediction answered")
    return seen


def trades_received(data_dir: str, venue: str, symbol: str, start_ns: int, end_ns: int):
    from mdc.store import Store

    with Store.open(data_dir, readonly=True) as store:
        events = store.iter_events(start_ns, end_ns, venue, symbol, types=["trade"])
        return [e.ts_recv for e in events]


def delays_ms(seen: list[tuple[int, int]], trades: list[int]) -> list[float]:
    """For each trade, arrival of the first response reflecting it minus its receive time."""
    arrivals = [arrived for arrived, _ in seen]
    reflected = list(itertools.accumulate((ts for _, ts in seen), max))
    delays = []
    for ts_recv in trades:
        i = bisect.bisect_left(reflected, ts_recv)
        if i < len(arrivals):
            delays.append((arrivals[i] - ts_recv) / 1e6)
    if not delays:
        raise RuntimeError("no trade of the instrument was received while polling")
    return delays


def row(r: Result, ratios: str) -> str:
    return (
        f"| {r.name} | {r.clients} | {r.p50_ms:.3f} | {r.p99_ms:.3f} | {r.per_s:,.0f} | "
        f"{ratios} | {r.failures} |"
    )


def table(pairs: list[Pair], in_process: Result) -> str:
    """Per variant and client count: medians over its rounds, ratios against the plain runs of
    the same rounds (median of the per-round ratios)."""
    lines = [
        "| variant | clients | p50 ms | p99 ms | req/s | req/s, p99 vs plain | failed |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    groups: dict[tuple[str, int], list[Pair]] = {}
    for pair in pairs:
        groups.setdefault((pair.served.name, pair.served.clients), []).append(pair)
    plain_rows = {}
    for (_name, clients), group in groups.items():
        rps = statistics.median(p.rps_ratio for p in group)
        p99 = statistics.median(p.p99_ratio for p in group)
        lines.append(row(median_result([p.served for p in group]), f"{rps:.2f}x, {p99:.2f}x"))
        plain_rows.setdefault(clients, []).extend(p.plain for p in group)
    lines.append(row(in_process, "-"))
    lines += [row(median_result(rs), "1.00x, 1.00x") for rs in plain_rows.values()]
    return "\n".join(lines)


def median_result(results: list[Result]) -> Result:
    first = results[0]
    return Result(
        first.name,
        first.clients,
        statistics.median(r.p50_ms for r in results),
        statistics.median(r.p99_ms for r in results),
        statistics.median(r.per_s for r in results),
        sum(r.failures for r in results),
    )


def default_ratios(pairs: list[Pair], clients: int) -> tuple[float, float]:
    """Median req/s and p99 ratios of the default path at `clients`."""
    group = [p for p in pairs if p.served.clients == clients and "default" in p.served.name]
    return (
        statistics.median(p.rps_ratio for p in group),
        statistics.median(p.p99_ratio for p in group),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="300 requests, 1 round, 10 s fresh")
    parser.add_argument("--requests", type=int, default=2000, help="per run (default 2000)")
    parser.add_argument("--rounds", type=int, default=3, help="default-path rounds (default 3)")
    parser.add_argument(
        "--fresh-seconds", type=float, default=30.0, help="freshness polling (default 30)"
    )
    parser.add_argument("--models", default=None, help="models directory (default: shipped)")
    parser.add_argument("--no-cold", action="store_true", help="skip the `mdc serve` cold start")
    parser.add_argument(
        "--serve-env",
        action="append",
        default=[],
        metavar="K=V",
        help="extra Serve controller environment (to compare Ray settings; repeatable)",
    )
    parser.add_argument("--plain-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    from models.runtime import SHIPPED, discover_models

    args.models = args.models or str(SHIPPED)
    if args.plain_server:
        run_plain_server(args.plain_server, args.models)
        return 0
    if args.quick:
        args.rounds, args.fresh_seconds = 1, 10.0
    requests = 300 if args.quick else args.requests
    bodies = rows(len(discover_models(args.models)[0].features), 256)
    pairs = bench_paths(args, bodies, requests)
    in_process = bench_in_process(args.models, bodies, requests)
    print(f"\n{requests} requests per run, httpx async clients; medians over the rounds\n")
    print(table(pairs, in_process), flush=True)
    for clients in CLIENTS:
        rps, p99 = default_ratios(pairs, clients)
        print(f"default path at {clients} clients: {rps:.2f}x req/s, {p99:.2f}x p99 of plain")
    if not args.no_cold:
        seconds = cold_start(args.models, bodies[0])
        print(
            f"\ncold start, `mdc serve` launch -> first prediction: {seconds:.1f} s "
            f"(was {OLD_COLD_START_S} s)",
            flush=True,
        )
    fresh = freshness(args.fresh_seconds)
    print(
        f"\nfreshness, binance BTC-USDT at the simulator's default rate: {fresh.trades} trades, "
        f"{fresh.responses} live predictions; trade receive -> response reflecting it "
        f"p50 {fresh.p50_ms:.1f} ms, p99 {fresh.p99_ms:.1f} ms, max {fresh.max_ms:.1f} ms; "
        f"`mdc run` launch -> first live prediction {fresh.cold_start_s:.1f} s"
    )
    rps, p99 = default_ratios(pairs, CLIENTS[0])
    print(
        f"default_rps_ratio={rps:.2f} default_p99_ratio={p99:.2f} "
        f"freshness_p99_ms={fresh.p99_ms:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
