"""Serving cost: Ray Serve vs plain uvicorn vs in-process onnxruntime, in one run.

Every HTTP variant serves the same `serve.app.build_app` (same models, same auth, same JSON) and
is driven by the same client: httpx.AsyncClient, 8 concurrent workers, `--requests` predictions
with explicit feature vectors after a warm-up. Variants:
  (a) Serve through its HTTP proxy, and through direct ingress (the replica's own port) when
      RAY_SERVE_ENABLE_DIRECT_INGRESS=1 works (this script sets it unless --no-direct);
  (b) in-process `LoadedModel.predict_matrix` (onnxruntime), one row per call, no HTTP;
  (c) plain uvicorn running build_app in its own process (the baseline; ratios are against it).
Then cold start: `mdc serve` launched as a subprocess until its first successful prediction.

Usage: python benchmarks/serve.py [--quick] [--requests N] [--no-direct] [--no-cold]
Prints a markdown table. 127.0.0.1 only; free ports.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
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
CONCURRENCY = 8
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Result:
    name: str
    p50_ms: float
    p99_ms: float
    per_s: float
    failures: int = 0


def rows(n_features: int, count: int, seed: int = 7) -> list[list[float]]:
    return np.random.default_rng(seed).normal(size=(count, n_features)).round(6).tolist()


def summarise(name: str, latencies_s: list[float], wall_s: float, failures: int = 0) -> Result:
    ms = np.asarray(latencies_s) * 1000
    p50, p99 = np.percentile(ms, [50, 99])
    return Result(name, float(p50), float(p99), len(latencies_s) / wall_s, failures)


async def drive(url: str, bodies: list[list[float]], requests: int, warmup: int) -> tuple:
    """8 workers share one request budget; returns (latencies, wall seconds, failures)."""
    latencies: list[float] = []
    failures = 0
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": KEY}, limits=limits) as c:
        for i in range(warmup):
            (
                await c.post("/v1/predict", json={"features": bodies[i % len(bodies)]})
            ).raise_for_status()
        counter = iter(range(requests))

        async def worker() -> None:
            nonlocal failures
            for i in counter:
                started = time.perf_counter()
                response = await c.post("/v1/predict", json={"features": bodies[i % len(bodies)]})
                latencies.append(time.perf_counter() - started)
                failures += response.status_code != 200

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        wall = time.perf_counter() - started
    return latencies, wall, failures


def bench_http(name: str, url: str, bodies: list[list[float]], requests: int) -> Result:
    latencies, wall, failures = asyncio.run(drive(url, bodies, requests, warmup=100))
    return summarise(name, latencies, wall, failures)


def bench_in_process(models_dir: str, bodies: list[list[float]], requests: int) -> Result:
    from models.runtime import discover_models

    model = discover_models(models_dir)[0]
    matrices = [np.asarray([b], dtype=np.float32) for b in bodies]
    latencies = []
    started = time.perf_counter()
    for i in range(requests):
        t0 = time.perf_counter()
        model.predict_matrix(matrices[i % len(matrices)])
        latencies.append(time.perf_counter() - t0)
    return summarise("(b) in-process onnxruntime", latencies, time.perf_counter() - started)


def wait_http(url: str, timeout_s: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.05)
    raise TimeoutError(f"{url} not up after {timeout_s} s")


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


def bench_serve(models_dir: str, bodies: list, requests: int, direct: bool) -> list[Result]:
    import ray

    from actors.runtime import init_ray
    from serve.auth import KeyRing
    from serve.deployment import (
        DIRECT_INGRESS_ENV,
        ServeSpec,
        direct_ingress_enabled,
        direct_ingress_urls,
        free_port,
        start_serve,
        stop_serve,
    )

    if direct:
        os.environ[DIRECT_INGRESS_ENV] = "1"
    direct_ingress_enabled()
    init_ray(num_cpus=2)
    results = []
    try:
        spec = ServeSpec(keys=KeyRing((KEY,)), models_dir=models_dir)
        url = start_serve(spec, "127.0.0.1", free_port())
        results.append(bench_http("(a) Ray Serve, HTTP proxy", url, bodies, requests))
        for direct_url in direct_ingress_urls("127.0.0.1")[:1]:
            wait_http(direct_url, 30)
            name = "(a) Ray Serve, direct ingress"
            results.append(bench_http(name, direct_url, bodies, requests))
    finally:
        stop_serve()
        ray.shutdown()
        os.environ.pop(DIRECT_INGRESS_ENV, None)
    return results


def cold_start(models_dir: str, features: list[float]) -> float:
    """Seconds from launching `mdc serve` to its first 200 prediction."""
    from serve.deployment import free_port

    port = free_port()
    cmd = [sys.executable, "-m", "mdc.cli", "serve", "--port", str(port), "--models", models_dir]
    env = os.environ | {"MDC_API_KEYS": KEY}
    env.pop("RAY_ADDRESS", None)
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    try:
        deadline = started + 120
        while time.perf_counter() < deadline and proc.poll() is None:
            with contextlib.suppress(httpx.HTTPError):
                response = httpx.post(
                    f"http://127.0.0.1:{port}/v1/predict",
                    json={"features": features},
                    headers={"X-API-Key": KEY},
                    timeout=2,
                )
                if response.status_code == 200:
                    return time.perf_counter() - started
            time.sleep(0.1)
        raise RuntimeError(f"mdc serve gave no prediction (exit {proc.poll()})")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)


def table(results: list[Result], baseline: Result) -> str:
    lines = [
        "| variant | p50 ms | p99 ms | req/s | req/s vs plain | p99 vs plain | failed |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.name} | {r.p50_ms:.3f} | {r.p99_ms:.3f} | {r.per_s:,.0f} | "
            f"{r.per_s / baseline.per_s:.2f}x | {r.p99_ms / baseline.p99_ms:.2f}x | {r.failures} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="300 requests per variant")
    parser.add_argument("--requests", type=int, default=2000, help="per variant (default 2000)")
    parser.add_argument("--models", default=None, help="models directory (default: shipped)")
    parser.add_argument("--no-direct", action="store_true", help="skip direct ingress")
    parser.add_argument("--no-cold", action="store_true", help="skip the cold-start measurement")
    parser.add_argument("--plain-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    from models.runtime import SHIPPED, discover_models

    models_dir = args.models or str(SHIPPED)
    if args.plain_server:
        run_plain_server(args.plain_server, models_dir)
        return 0
    requests = 300 if args.quick else args.requests
    bodies = rows(len(discover_models(models_dir)[0].features), 256)
    with plain_server(models_dir) as url:
        baseline = bench_http("(c) plain uvicorn + build_app", url, bodies, requests)
    results = bench_serve(models_dir, bodies, requests, direct=not args.no_direct)
    results += [bench_in_process(models_dir, bodies, requests), baseline]
    print(f"\n{requests} requests per variant, {CONCURRENCY} concurrent clients (httpx async)\n")
    print(table(results, baseline))
    if not args.no_cold:
        seconds = cold_start(models_dir, bodies[0])
        print(f"\ncold start, `mdc serve` launch -> first prediction: {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
