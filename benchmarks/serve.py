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

Usage: python benchmarks/serve.py [--quick] [--requests N] [--fresh-seconds S] [--no-cold]
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


def wait_http(url: str, timeout_s: float, proc: subprocess.Popen | None = None) -> None:
    from actors.waiting import wait_until_sync

    def up() -> bool:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            return httpx.get(url + "/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

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


def bench_plain(models_dir: str, bodies: list, requests: int) -> list[Result]:
    with plain_server(models_dir) as url:
        name = "(c) plain uvicorn + build_app"
        return [bench_http(name, url, bodies, requests, n) for n in CLIENTS]


def bench_serve(models_dir: str, bodies: list, requests: int) -> list[Result]:
    """The default path at every client count, then the proxy at the first."""
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
    spec = ServeSpec(keys=KeyRing((KEY,)), models_dir=models_dir)
    results = []
    try:
        for path, clients, name in (
            (ServePath.DIRECT, CLIENTS, "(a) Ray Serve, default (direct ingress)"),
            (ServePath.PROXY, CLIENTS[:1], "(a) Ray Serve, HTTP proxy (--proxy)"),
        ):
            served = start_serve(spec, "127.0.0.1", free_port(), ServeOptions(path))
            if served.path is not path:
                raise RuntimeError(f"{path.value} did not start: {served.fallback_reason}")
            try:
                results += [bench_http(name, served.url, bodies, requests, n) for n in clients]
            finally:
                stop_serve()
    finally:
        ray.shutdown()
    return results


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


def table(results: list[Result], baselines: dict[int, Result]) -> str:
    lines = [
        "| variant | clients | p50 ms | p99 ms | req/s | req/s vs plain | p99 vs plain | failed |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        base = baselines.get(r.clients, baselines[CLIENTS[0]])
        lines.append(
            f"| {r.name} | {r.clients} | {r.p50_ms:.3f} | {r.p99_ms:.3f} | {r.per_s:,.0f} | "
            f"{r.per_s / base.per_s:.2f}x | {r.p99_ms / base.p99_ms:.2f}x | {r.failures} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="300 requests, 10 s freshness")
    parser.add_argument("--requests", type=int, default=2000, help="per variant (default 2000)")
    parser.add_argument(
        "--fresh-seconds", type=float, default=30.0, help="freshness polling (default 30)"
    )
    parser.add_argument("--models", default=None, help="models directory (default: shipped)")
    parser.add_argument("--no-cold", action="store_true", help="skip the `mdc serve` cold start")
    parser.add_argument("--plain-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    from models.runtime import SHIPPED, discover_models

    models_dir = args.models or str(SHIPPED)
    if args.plain_server:
        run_plain_server(args.plain_server, models_dir)
        return 0
    requests = 300 if args.quick else args.requests
    bodies = rows(len(discover_models(models_dir)[0].features), 256)
    plain = bench_plain(models_dir, bodies, requests)
    baselines = {r.clients: r for r in plain}
    served = bench_serve(models_dir, bodies, requests)
    results = [*served, bench_in_process(models_dir, bodies, requests), *plain]
    print(f"\n{requests} requests per variant (httpx async clients)\n", flush=True)
    print(table(results, baselines), flush=True)
    if not args.no_cold:
        seconds = cold_start(models_dir, bodies[0])
        print(
            f"\ncold start, `mdc serve` launch -> first prediction: {seconds:.1f} s "
            f"(was {OLD_COLD_START_S} s)",
            flush=True,
        )
    fresh = freshness(10.0 if args.quick else args.fresh_seconds)
    print(
        f"\nfreshness, binance BTC-USDT at the simulator's default rate: {fresh.trades} trades, "
        f"{fresh.responses} live predictions; trade receive -> response reflecting it "
        f"p50 {fresh.p50_ms:.1f} ms, p99 {fresh.p99_ms:.1f} ms, max {fresh.max_ms:.1f} ms; "
        f"`mdc run` launch -> first live prediction {fresh.cold_start_s:.1f} s"
    )
    default = served[0]
    base = baselines[default.clients]
    print(
        f"default_rps_ratio={default.per_s / base.per_s:.2f} "
        f"default_p99_ratio={default.p99_ms / base.p99_ms:.2f} "
        f"freshness_p99_ms={fresh.p99_ms:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
