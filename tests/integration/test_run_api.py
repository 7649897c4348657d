"""`mdc run` serves the prediction API with the collector's live features, and the `/ui`
dashboard, tested in a real headless Chromium (Debian's, driven by Playwright): a key is needed,
charts draw with live data, the features computed in the page under WebAssembly equal the
server's, an `mdc replay` file is charted and computed with no server, and the reports and cost
views render. One collector serves the whole module; it must stop cleanly at the end.

Screenshots go to `test-artifacts/` (or $MDC_TEST_ARTIFACTS) for people to look at.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.sync.client import connect

from actors.waiting import wait_until_sync
from loadtests.browser import chromium
from mdc.events import from_json
from mdc.features import FeatureConfig, FeatureTracker
from serve.deployment import free_port

INSTRUMENT = "binance/BTC-USDT"
POINT_IN_TIME = ("mid", "spread_abs", "spread_bps", "l1_imbalance", "weighted_mid")
PAGE_TIMEOUT_MS = 120_000


@dataclass
class Collector:
    base: str
    key: str
    data_dir: Path
    mdc: str


def _get(url: str, **kwargs) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=3, **kwargs)
    except httpx.HTTPError:
        return None


@pytest.fixture(scope="module")
def collector(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("run")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "mdc.cli", "run", "--data-dir", str(data_dir)]
    argv += ["--venues", "binance", "--api-port", str(port), "--duration", "400"]
    argv += ["--grpc-port", "0"]  # any free port: the API learns the one bound
    env = {k: v for k, v in os.environ.items() if k != "MDC_API_KEYS"}
    log = data_dir / "run.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        wait_until_sync(
            lambda: (r := _get(f"{base}/healthz")) and r.status_code == 200, 90, "healthz", 0.5
        )
        key = (Path(data_dir) / "api-key").read_text().strip()
        mdc = str(Path(sys.executable).with_name("mdc"))
        yield Collector(base, key, data_dir, mdc)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=90)
    output = log.read_text()
    assert proc.returncode == 0, output[-3000:]
    assert "prediction API on" in output and "stopped cleanly" in output


@pytest.fixture(scope="module")
def browser_context():
    """One Chromium and one context (a shared HTTP cache) for the module's pages."""
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        yield context
        context.close()


@pytest.fixture(scope="module")
def artifacts() -> Path:
    root = Path(os.environ.get("MDC_TEST_ARTIFACTS", "test-artifacts")) / "dashboard"
    root.mkdir(parents=True, exist_ok=True)
    return root


def _headers(collector: Collector) -> dict[str, str]:
    return {"X-API-Key": collector.key}


def test_mdc_run_serves_live_predictions(collector):
    base, headers = collector.base, _headers(collector)
    assert _get(f"{base}/v1/features/{INSTRUMENT}").status_code == 401

    def mid_known():
        r = _get(f"{base}/v1/features/{INSTRUMENT}", headers=headers)
        return r is not None and r.status_code == 200 and r.json()["features"]["mid"]

    wait_until_sync(mid_known, 60, "a live mid for binance BTC-USDT", 0.5)
    body = {"venue": "binance", "symbol": "BTC-USDT"}
    answer = httpx.post(f"{base}/v1/predict", json=body, headers=headers, timeout=5)
    assert answer.status_code == 200, answer.text
    assert answer.json()["label"] in (0, 1) and answer.json()["t_ns"] > 0
    unknown = httpx.post(f"{base}/v1/predict", json={**body, "symbol": "NOPE"}, headers=headers)
    assert unknown.status_code == 404
    # the live stream for browsers, through the same ingress (relayed from the gRPC server)
    stream = base.replace("http://", "ws://") + "/v1/stream?symbols=BTC-*"
    with connect(stream, additional_headers=headers) as ws:
        trade = json.loads(ws.recv(timeout=30))
    assert trade["type"] == "trade" and trade["symbol"] == "BTC-USDT" and trade["position"]
    # every stored event of one instrument, in log order, for pages that compute features
    stream = base.replace("http://", "ws://") + "/v1/stream?type=events&symbols=BTC-USDT&from=0"
    with connect(stream, additional_headers=headers) as ws:
        kinds = {json.loads(ws.recv(timeout=30))["type"] for _ in range(200)}
    assert {"book_snapshot", "book_delta", "trade"} <= kinds


def test_metrics_and_probes_are_served_while_it_runs(collector):
    """The driver's Prometheus endpoint and probes (the port is in the run's output); that the
    run stops cleanly, the module's collector fixture checks."""
    log = (collector.data_dir / "run.log").read_text()
    port = int(re.search(r"metrics on http://127\.0\.0\.1:(\d+)/metrics", log).group(1))
    body = wait_until_sync(
        lambda: (text := _metric(port, "/metrics")) and _flowing(text) and text, 60, "metrics"
    )
    assert "mdc_restarts_total" in body and "mdc_actor_up" in body
    assert _metric(port, "/livez") == "ok" and _metric(port, "/readyz") == "ready"
    status = json.loads((collector.data_dir / "status.json").read_text())
    assert "provider:binance" in status["rows"]


def _flowing(body: str) -> bool:
    """Events by venue and type and the end-to-end lag histogram are fed from the actors."""
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }
    trades = samples.get(("mdc_events_total", (("type", "trade"), ("venue", "binance"))), 0)
    lag = samples.get(("mdc_end_to_end_lag_seconds_count", (("venue", "binance"),)), 0)
    return trades > 0 and lag > 0


def _metric(port: int, path: str) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
            text = response.read().decode()
    except OSError:
        return ""
    return "ready" if path == "/readyz" else ("ok" if path == "/livez" else text)


def _login(page, collector: Collector, key: str | None = None) -> None:
    page.goto(f"{collector.base}/ui", wait_until="domcontentloaded")
    page.fill("input[name=api_key]", key or collector.key)
    page.click("#login-form button[type=submit]")


def _wait_python(page) -> None:
    page.wait_for_function(
        "['ready', 'failed'].includes(document.body.dataset.python)", timeout=PAGE_TIMEOUT_MS
    )
    assert page.evaluate("document.body.dataset.python") == "ready", page.inner_text("header")


@pytest.fixture(scope="module")
def page(collector, browser_context):
    """One logged-in page with Python loaded, shared by the views' tests (booting Pyodide is
    the slow part of a page load)."""
    page = browser_context.new_page()
    _login(page, collector)
    page.wait_for_selector("#app", state="visible")
    _wait_python(page)
    yield page
    page.close()


def test_the_page_refuses_without_a_key(collector, browser_context, artifacts):
    page = browser_context.new_page()
    page.goto(f"{collector.base}/ui", wait_until="domcontentloaded")
    assert page.is_visible("input[name=api_key]") and not page.is_visible("#app")
    assert _get(f"{collector.base}/v1/status").status_code == 401
    _login(page, collector, key="not-the-key")
    page.wait_for_function("document.getElementById('login-error').textContent !== ''")
    assert page.inner_text("#login-error") == "API key not accepted"
    assert not page.is_visible("#app") and page.evaluate("sessionStorage.length") == 0
    page.screenshot(path=artifacts / "refused.png")
    page.close()


def _features(page, source: str, venue: str, symbol: str) -> dict[str, object]:
    cells = page.query_selector_all(
        f'td[data-source="{source}"][data-venue="{venue}"][data-symbol="{symbol}"]'
    )
    return {
        c.get_attribute("data-feature"): json.loads(c.get_attribute("data-value")) for c in cells
    }


def test_live_charts_draw_and_the_page_computes_the_servers_features(page, artifacts):
    page.wait_for_function(
        "Number(document.getElementById('compare-status').dataset.compared) >= 3",
        timeout=PAGE_TIMEOUT_MS,
    )
    status = page.eval_on_selector("#compare-status", "e => ({...e.dataset})")
    assert status["differ"] == "0", page.inner_text("#compare-status")
    venue, symbol = page.eval_on_selector("#instrument", "e => e.value").split("|")
    server = _features(page, "server", venue, symbol)
    wasm = _features(page, "wasm", venue, symbol)
    assert server and server == wasm
    assert all(server[name] is not None for name in POINT_IN_TIME), server
    for chart in ("price-chart", "depth-chart"):
        assert int(page.get_attribute(f"#{chart}", "data-points")) > 0, chart
    assert page.query_selector("#price-chart canvas") is not None
    assert "provider:binance" in page.inner_text("#venues")
    page.wait_for_function("document.getElementById('predictions').innerText.includes('variant')")
    page.screenshot(path=artifacts / "live.png", full_page=True)


def _replayed(collector: Collector, out: Path) -> list[str]:
    argv = [collector.mdc, "replay", "--data-dir", str(collector.data_dir), "--from", "0"]
    argv += ["--to", str(time.time_ns()), "--venue", "binance", "--symbol", "BTC-USDT"]
    with open(out, "wb") as f:
        subprocess.run(argv, stdout=f, check=True, timeout=120)
    return [line for line in out.read_text().splitlines() if line.strip()]


def test_an_mdc_replay_file_is_charted_and_computed_with_no_server(
    collector, page, artifacts, tmp_path
):
    lines = _replayed(collector, tmp_path / "replay.jsonl")
    assert len(lines) > 100
    page.click('#tabs button[data-tab="offline"]')
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.route("**/*", lambda route: route.abort())  # the server is unreachable from here on
    page.set_input_files("#offline-file", str(tmp_path / "replay.jsonl"))
    page.wait_for_function(
        "document.getElementById('offline-status').dataset.events !== undefined",
        timeout=PAGE_TIMEOUT_MS,
    )
    assert page.get_attribute("#offline-status", "data-events") == str(len(lines))
    assert requests == []
    tracker = FeatureTracker(FeatureConfig.default())
    for line in lines:
        tracker.on_event(from_json(line))
    vector = tracker.vector("binance", "BTC-USDT")
    expected = {
        k: None if isinstance(v, float) and not math.isfinite(v) else v
        for k, v in vector.values.items()
    }
    assert _features(page, "wasm", "binance", "BTC-USDT") == expected
    assert int(page.get_attribute("#offline-chart", "data-points")) > 0
    page.screenshot(path=artifacts / "offline.png", full_page=True)
    page.unroute("**/*")


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "reports"


def _open_report(page, path: Path, kind: str) -> None:
    page.set_input_files("#report-file", str(path))
    page.wait_for_selector(f'#report-view[data-kind="{kind}"]', timeout=PAGE_TIMEOUT_MS)


def test_chaos_and_load_reports_render(collector, page, artifacts, tmp_path):
    page.click('#tabs button[data-tab="reports"]')
    chaos = json.loads((FIXTURES / "chaos-report.json").read_text())
    _open_report(page, FIXTURES / "chaos-report.json", "chaos")
    checks = [check for s in chaos["scenarios"] for check in s["invariants"]]
    assert len(page.query_selector_all("#report-view .verdict.pass")) >= len(checks)
    assert not page.query_selector_all("#report-view .verdict.fail")
    text = page.inner_text("#report-view")
    assert all(check["name"] in text for check in checks)
    timeline = '#report-view [data-chart="chaos-timeline-provider_failure"] canvas'
    assert page.query_selector(timeline) is not None
    page.screenshot(path=artifacts / "chaos-report.png", full_page=True)

    out = tmp_path / "load"  # a real load report: `mdc load` on this collector's API
    argv = [collector.mdc, "load", "--host", collector.base, "--api-key", collector.key]
    argv += ["--duration", "3", "--users", "2", "--scenario", "features", "--out", str(out)]
    subprocess.run(argv, check=True, timeout=120, capture_output=True)
    load = json.loads((out / "report.json").read_text())
    _open_report(page, out / "report.json", "load")
    text = page.inner_text("#report-view")
    assert all(endpoint["name"] in text for endpoint in load["endpoints"])
    for chart in ("load-percentiles", "load-throughput"):
        assert page.query_selector(f'#report-view [data-chart="{chart}"] canvas'), chart
    page.screenshot(path=artifacts / "load-report.png", full_page=True)

    junk = tmp_path / "junk.json"
    junk.write_text('{"neither": true}')
    page.set_input_files("#report-file", str(junk))
    page.wait_for_function("document.getElementById('report-status').textContent !== ''")
    assert "neither a chaos nor a load report" in page.inner_text("#report-status")


def test_the_cost_view_shows_the_stores_costs_and_takes_prices(page, artifacts):
    page.click('#tabs button[data-tab="cost"]')
    page.wait_for_selector("#cost-view table", timeout=PAGE_TIMEOUT_MS)
    text = page.inner_text("#cost-view")
    assert "binance" in text and "BTC-USDT" in text and "Storage by event type" in text
    assert "Next 30 days" in text
    price = '#cost-view input[name="storage_gb_month"]'
    assert page.input_value(price) != "1000"
    page.fill(price, "1000")
    page.eval_on_selector(price, "e => { e.dataset.before = 'yes'; }")
    page.click('#cost-view form button[type="submit"]')
    # the view is rebuilt (a new input) from the server's answer, which echoes the price applied
    page.wait_for_function(
        f"(e => e && !e.dataset.before && e.value === '1000')(document.querySelector('{price}'))",
        timeout=30_000,
    )
    page.screenshot(path=artifacts / "cost.png", full_page=True)
