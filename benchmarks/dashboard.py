"""The dashboard's page weight and time to first chart, cold and warm cache, in Debian's Chromium.

`mdc run` collects one venue (binance) from the embedded simulator and serves `/ui`; Playwright
drives a headless Chromium (`loadtests.browser`) on 127.0.0.1:
- cold: a browser with a new profile (empty disk cache) opens `/ui` with the API key already in
  the session, as after a login;
- warm: the same browser opens it again (assets come from its disk cache: they are sent with a
  day of freshness and validators).
For each load: bytes transferred (the Resource Timing `transferSize` of every request, the page
included), bytes decoded (`decodedBodySize`: what the page is made of), time until Python
(Pyodide plus mdc's bundle) is ready, and time until the first chart holds data (the trades
chart, fed by the page's own feature engine from `/v1/stream`). All times from navigation start.
`--loads` cold/warm pairs; medians printed. Ratio = warm time to first chart / cold.

Usage: python benchmarks/dashboard.py [--loads N]. The last line is
`ratio=<R> cold_first_chart_s=<C> warm_first_chart_s=<W> cold_mb=<M> warm_mb=<N>`.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

# Run as a script, this directory would shadow the `serve` package: drop it from sys.path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from actors.waiting import wait_until_sync  # noqa: E402
from loadtests.browser import chromium_profile  # noqa: E402
from serve.deployment import free_port  # noqa: E402

TIMEOUT_MS = 180_000
MEASURE = """() => {
  const entries = [...performance.getEntriesByType("navigation"),
                   ...performance.getEntriesByType("resource")];
  return {
    transferred: entries.reduce((n, e) => n + e.transferSize, 0),
    decoded: entries.reduce((n, e) => n + e.decodedBodySize, 0),
    requests: entries.length,
    python_ms: Number(document.body.dataset.pythonMs),
    first_chart_ms: Number(document.body.dataset.firstChart),
  };
}"""


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _load(context, base: str, key: str) -> dict:
    page = context.new_page()
    page.add_init_script(f"sessionStorage.setItem('mdc.api_key', {key!r})")
    page.goto(f"{base}/ui", wait_until="domcontentloaded")
    page.wait_for_function(
        "document.body.dataset.firstChart && document.body.dataset.pythonMs", timeout=TIMEOUT_MS
    )
    page.wait_for_load_state("load")
    result = page.evaluate(MEASURE)
    page.close()
    return result


def _row(name: str, loads: list[dict]) -> dict:
    med = {k: statistics.median(load[k] for load in loads) for k in loads[0]}
    print(
        f"{name:5} {med['transferred'] / 1e6:8.2f} MB sent {med['decoded'] / 1e6:7.2f} MB "
        f"page {int(med['requests']):3} requests  python {med['python_ms'] / 1e3:5.2f} s  "
        f"first chart {med['first_chart_ms'] / 1e3:5.2f} s"
    )
    return med


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loads", type=int, default=3, help="cold/warm pairs (default 3)")
    args = parser.parse_args()
    data_dir = tempfile.mkdtemp(prefix="mdc-bench-ui-")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "mdc.cli", "run", "--data-dir", data_dir, "--venues", "binance"]
    argv += ["--api-port", str(port), "--grpc-port", "0", "--duration", "900"]
    env = {k: v for k, v in os.environ.items() if k != "MDC_API_KEYS"}
    print(f"starting mdc run (binance) on {base} ...", file=sys.stderr)
    with open(Path(data_dir) / "run.log", "w") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        wait_until_sync(lambda: _healthy(base), 120, "the collector's API", 0.5)
        key = (Path(data_dir) / "api-key").read_text().strip()
        cold, warm = [], []
        for n in range(args.loads):
            print(f"load pair {n + 1}/{args.loads} ...", file=sys.stderr)
            with chromium_profile() as context:  # a new profile: an empty cache
                cold.append(_load(context, base, key))
                warm.append(_load(context, base, key))
        print("load  transferred    page      requests  ready          first chart with data")
        c, w = _row("cold", cold), _row("warm", warm)
        print(
            f"ratio={w['first_chart_ms'] / c['first_chart_ms']:.2f} "
            f"cold_first_chart_s={c['first_chart_ms'] / 1e3:.2f} "
            f"warm_first_chart_s={w['first_chart_ms'] / 1e3:.2f} "
            f"cold_mb={c['transferred'] / 1e6:.2f} warm_mb={w['transferred'] / 1e6:.2f}"
        )
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=90)


if __name__ == "__main__":
    main()
