"""Load tests end to end: real Locust processes against the real serve/app.py on 127.0.0.1.

The server is serve.app.build_app under uvicorn. No trained ONNX model ships yet (models/shipped
does not exist), so the app gets two fixed-answer models and a one-instrument feature source that
satisfy serve's Model and FeatureSource protocols; authentication, body parsing, routing, A/B and
error answers are serve's own.
"""

from __future__ import annotations

import csv
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import uvicorn

from actors.waiting import wait_until_sync
from loadtests.report import REPORT_CSV_COLUMNS
from loadtests.runner import LoadHandle, start_load
from loadtests.workload import LoadRunError, Workload
from mdc.features import FeatureVector
from mdc.features.board import LiveVector
from serve.ab import ABRouter
from serve.app import build_app
from serve.auth import KeyRing
from serve.features_source import Lookup

MDC = Path(sys.executable).with_name("mdc")
"""The console script of the interpreter running the tests (its virtualenv's bin/)."""
KEY = "load-test-key"
INSTRUMENT = ("binance", "BTC-USDT")
WORKLOAD = Workload(instruments=(INSTRUMENT,), seed=7, think_s=0.02)
PREDICT_ROWS = ("/v1/predict features", "/v1/predict venue+symbol")
FEATURES_ROW = "/v1/features/{venue}/{symbol}"


# -- the served app: serve's real build_app over fixed-answer parts ------------------------------


@dataclass(frozen=True)
class FixedPrediction:
    label: int
    probability_up: float


class FixedModel:
    """serve.ab.Model that always answers "up, 0.61": latency is then serve's, not a model's."""

    def __init__(self, version: str, features: tuple[str, ...]) -> None:
        self.name, self.version, self.features = "direction", version, features
        self.inference_s = 0.0
        self.card = {"name": self.name, "version": version, "features": list(features)}

    def vectorize(self, values: Mapping[str, float | int | None]) -> np.ndarray:
        return np.asarray([float(values.get(n) or 0.0) for n in self.features], np.float32)

    def check_rows(self, rows: object) -> np.ndarray:
        return np.atleast_2d(np.asarray(rows, dtype=np.float32))

    def predict_checked(self, x: np.ndarray) -> list[FixedPrediction]:
        return [FixedPrediction(1, 0.61) for _ in range(len(x))]


class OneInstrument:
    """serve.features_source.FeatureSource knowing INSTRUMENT only."""

    def lookup(self, venue: str, symbol: str) -> Lookup | None:
        if (venue, symbol) != INSTRUMENT:
            return None
        values = {"spread": 0.01, "ofi": None, "rv": 0.002}
        return Lookup(LiveVector(FeatureVector(venue, symbol, 1_700_000_000, values), 1), 0.0)

    def instruments(self) -> list[tuple[str, str]]:
        return [INSTRUMENT]

    def close(self) -> None:
        pass


def served_app() -> Callable:
    """Models of different input lengths, so vectors must be sized per version from /v1/models."""
    router = ABRouter(
        FixedModel("v1", ("spread", "ofi")), FixedModel("v2", ("spread", "ofi", "rv")), 0.5
    )
    return build_app(router, OneInstrument(), KeyRing([KEY]))


def failing_on(prefix: str, app: Callable) -> Callable:
    """Wrap an ASGI app so every request under `prefix` gets a JSON 500 (an endpoint gone bad)."""

    async def wrapped(scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "http" and scope["path"].startswith(prefix):
            headers = [(b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": 500, "headers": headers})
            await send({"type": "http.response.body", "body": b'{"error": "injected"}'})
            return
        await app(scope, receive, send)

    return wrapped


@contextmanager
def serving(app: Callable) -> Iterator[str]:
    """uvicorn on 127.0.0.1, a free port, in a thread; yields the base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_until_sync(lambda: server.started, 15.0, "uvicorn to start", every_s=0.05)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(15.0)
        sock.close()


@pytest.fixture(scope="module")
def good_host() -> Iterator[str]:
    with serving(served_app()) as url:
        yield url


@pytest.fixture(scope="module")
def bad_features_host() -> Iterator[str]:
    with serving(failing_on("/v1/features/", served_app())) as url:
        yield url


@pytest.fixture(scope="module")
def runs(
    good_host: str, bad_features_host: str, tmp_path_factory
) -> Iterator[dict[str, LoadHandle]]:
    """Three Locust runs started together (to keep this file fast), each test waits for its own."""
    out = tmp_path_factory.mktemp("load")
    plans = {
        "good": (good_host, 2, 3, "predict"),
        "bad": (bad_features_host, 2, 3, "all"),
        "long": (good_host, 1, 60, "features"),
    }
    with ExitStack() as stack:
        yield {
            name: stack.enter_context(
                start_load(
                    host, users, seconds, KEY, out / name, scenario=scenario, workload=WORKLOAD
                )
            )
            for name, (host, users, seconds, scenario) in plans.items()
        }


# -- runner ------------------------------------------------------------------------------------


def test_run_against_healthy_api_has_no_failures_and_writes_reports(runs: dict) -> None:
    handle = runs["good"]
    report = handle.wait()
    assert report.requests > 0
    assert report.failures == 0
    assert report.error_rate == 0.0
    assert report.rps > 0
    assert report.p50_ms is not None and report.p50_ms <= report.p95_ms <= report.p99_ms
    names = {row.name for row in report.endpoints}
    assert set(PREDICT_ROWS) <= names
    assert all(report.endpoint(name).requests > 0 for name in PREDICT_ROWS)

    out = handle.plan.out_dir
    with (out / "report.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == REPORT_CSV_COLUMNS
    assert rows[-1]["name"] == "Aggregated" and int(rows[-1]["requests"]) == report.requests
    markdown = (out / "report.md").read_text()
    assert (
        "| endpoint | requests | errors | error rate | req/s | p50 ms | p95 ms | p99 ms |"
        in markdown
    )
    assert f"| **Aggregated** | {report.requests} | 0 |" in markdown


def test_endpoint_answering_500_counts_failures(runs: dict) -> None:
    report = runs["bad"].wait()
    features = report.endpoint(FEATURES_ROW)
    assert features.requests > 0 and features.failures == features.requests
    assert all(report.endpoint(name).failures == 0 for name in PREDICT_ROWS)
    assert report.failures == features.failures
    assert 0 < report.error_rate < 1
    assert [(e.name, e.error) for e in report.errors] == [(FEATURES_ROW, "HTTP 500")]
    assert "HTTP 500" in (runs["bad"].plan.out_dir / "report.md").read_text()


def test_started_run_reports_progress_and_stops_early(runs: dict) -> None:
    handle = runs["long"]
    wait_until_sync(
        lambda: handle.progress().requests > 0, 20.0, "progress to show requests", every_s=0.05
    )
    handle.stop()
    started = time.monotonic()
    report = handle.wait()
    assert time.monotonic() - started < 10.0
    assert report.requests >= handle.progress().requests > 0
    assert report.failures == 0


# -- `mdc load` through the installed entry point ----------------------------------------------


def mdc_load(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"MDC_API_KEYS", "MDC_LOAD_API_KEY"}}
    return subprocess.run(
        [str(MDC), "load", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env=clean | (env or {}),
    )


def test_cli_unreachable_host_exits_nonzero_with_one_line() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    done = mdc_load("--host", f"http://127.0.0.1:{port}", "--api-key", KEY)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"127.0.0.1:{port}/healthz" in lines[0] and "mdc serve" in lines[0]


def test_cli_prints_table_and_enforces_max_error_rate(
    good_host: str, bad_features_host: str, tmp_path: Path
) -> None:
    common = ("--users", "2", "--duration", "2", "--scenario", "all", "--think-ms", "20",
              "--instrument", "binance:BTC-USDT", "--max-error-rate", "0.05")  # fmt: skip
    good = subprocess.Popen(  # a relative --out: resolved against mdc's working directory
        [str(MDC), "load", "--host", good_host, "--out", "g", *common],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        env=os.environ | {"MDC_API_KEYS": f"{KEY},other"},
    )  # fmt: skip
    bad = mdc_load(
        "--host", bad_features_host, "--out", str(tmp_path / "b"), "--api-key", KEY, *common
    )
    good_out, good_err = good.communicate(timeout=60)

    assert good.returncode == 0, good_err
    assert "| **Aggregated** |" in good_out and "p99 ms" in good_out
    assert "requests" in good_err  # the progress line
    assert (tmp_path / "g" / "report.md").read_text() in good_out
    assert (tmp_path / "g" / "locust_final_stats.csv").is_file()

    assert bad.returncode == 1
    assert "exceeds --max-error-rate 5.00%" in bad.stderr
    assert "HTTP 500" in bad.stdout


def test_cli_without_any_api_key_is_a_clear_error(good_host: str) -> None:
    done = mdc_load("--host", good_host)
    assert done.returncode == 2
    assert "no API key" in done.stderr and "--api-key" in done.stderr


def test_overrun_is_killed_with_a_typed_error(
    good_host: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("loadtests.runner.START_STOP_MARGIN_S", -0.5)  # deadline: 0.5 s after start
    handle = start_load(good_host, 1, 1, KEY, tmp_path, workload=WORKLOAD)
    with pytest.raises(LoadRunError, match="overran 1 s"):
        handle.wait()
    assert not handle.running


def test_stream_scenario_holds_grpc_subscriptions_and_reports_them(tmp_path: Path) -> None:
    from tests.integration.test_grpc_stream import KEY as STREAM_KEY
    from tests.integration.test_grpc_stream import Rig, _events

    rig = Rig(str(tmp_path / "store"))
    rig.append(_events(1, 50))
    target = rig.start()
    stop = threading.Event()

    def append_while_loaded() -> None:
        for i in range(200):  # bounded: 200 small appends, 20 ms apart
            if stop.wait(0.02):
                return
            rig.append(_events(10 + i, 5, offset_ns=(i + 1) * 10**12))

    appender = threading.Thread(target=append_while_loaded, daemon=True)
    appender.start()
    try:
        out = str(tmp_path / "r")
        done = mdc_load(
            "--scenario", "stream", "--grpc-target", target, "--users", "2", "--duration", "3",
            "--instrument", "binance:BTC-USDT", "--api-key", STREAM_KEY, "--out", out,
        )  # fmt: skip
    finally:
        stop.set()
        appender.join(10)
        rig.stop()
        rig.store.close()
    assert done.returncode == 0, done.stderr
    row = next(line for line in done.stdout.splitlines() if "SubscribeTrades" in line)
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert int(cells[1]) > 0 and cells[2] == "0", row  # events received, no broken stream
    assert f"stream, 2 users, 3 s, {target}" in done.stdout


def test_stream_scenario_without_a_grpc_server_is_a_clear_error() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    done = mdc_load("--scenario", "stream", "--grpc-target", f"127.0.0.1:{port}", "--api-key", KEY)
    assert done.returncode == 2
    assert f"no gRPC market data serving at 127.0.0.1:{port}" in done.stderr
