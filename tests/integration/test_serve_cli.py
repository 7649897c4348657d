"""`mdc serve` as a user runs it: help, clear errors before Ray starts, and a real launch that
answers (predictions; the store's gRPC market data and GraphQL with --data-dir) and stops
cleanly on Ctrl-C (its own local Ray, so once per file)."""

from __future__ import annotations

import itertools
import os
import random
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from mdc.client import MarketDataClient
from mdc.store import Store
from mdc.store.synth import book_stream, trades
from models.runtime import SHIPPED, discover_models
from serve.deployment import free_port
from tests.integration.pipes import drain, with_default_sigint

MDC = [sys.executable, "-m", "mdc.cli", "serve"]


def env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in ("MDC_API_KEYS", "RAY_ADDRESS")}
    return base | extra


def mdc_serve(*args: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*MDC, *args], env=env(**extra), capture_output=True, text=True, timeout=60, check=False
    )


def test_help_lists_every_option():
    out = mdc_serve("--help").stdout
    for option in (
        "--host",
        "--port",
        "--models",
        "--data-dir",
        "--actor",
        "--num-cpus",
        "--address",
        "--weight-b",
        "--min-replicas",
        "--max-replicas",
        "--api-key-hash",
        "MDC_API_KEYS",
        "/v1/predict",
        "--direct-ingress",
        "--proxy",
        "--max-feature-age",
        "--grpc-port",
    ):
        assert option in out, option


def test_refuses_to_run_without_keys():
    done = mdc_serve("--port", "1")
    assert done.returncode == 2 and "at least one API key" in done.stderr
    assert "Traceback" not in done.stderr


def test_taken_port_is_a_clear_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        done = mdc_serve("--port", str(port), MDC_API_KEYS="k")
    assert done.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr


def test_bad_models_dir_and_version(tmp_path):
    done = mdc_serve("--models", str(tmp_path / "none"), MDC_API_KEYS="k")
    assert done.returncode == 2 and "no such models directory" in done.stderr
    done = mdc_serve("--b", "v42", MDC_API_KEYS="k")
    assert done.returncode == 2 and "variant B: no model version 'v42'" in done.stderr


@pytest.mark.ray
def test_launch_predict_and_stop_on_ctrl_c(tmp_path):
    port, grpc_port = free_port(), free_port()
    with Store.open(str(tmp_path)) as store:
        store.append(trades(random.Random(1), 500) + book_stream(random.Random(2), 100))
    argv = [*MDC, "--port", str(port), "--num-cpus", "1", "--direct-ingress"]
    argv += ["--data-dir", str(tmp_path), "--grpc-port", str(grpc_port)]
    errors = tmp_path / "stderr.log"  # a file: output the test does not read never blocks it
    with open(errors, "w") as stderr:
        proc = subprocess.Popen(
            with_default_sigint(argv),
            env=env(MDC_API_KEYS="cli-key"),
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        line = proc.stdout.readline()
        assert f"gRPC market data of {tmp_path} on 127.0.0.1:{grpc_port}" in line, line
        with MarketDataClient(f"127.0.0.1:{grpc_port}", api_key="cli-key") as client:
            replayed = list(itertools.islice(client.subscribe("trades", start=0), 500))
            assert [g.event.trade_id for g in replayed] == list(range(1, 501))
            assert client.book("binance", "BTC-USDT", depth=2).in_sync
        line = proc.stdout.readline()
        assert f"ready at http://127.0.0.1:{port}" in line, line or errors.read_text()
        path = proc.stdout.readline()
        assert f"the replica answers on http://127.0.0.1:{port} (Serve's proxy: http://" in path
        proxy = path.split("proxy: ")[1].rstrip(")\n")
        drain(proc.stdout)
        n = len(discover_models(SHIPPED)[0].features)
        for base in (f"http://127.0.0.1:{port}", proxy):
            response = httpx.post(
                f"{base}/v1/predict",
                json={"features": [0.5] * n, "model": "v1"},
                headers={"X-API-Key": "cli-key"},
                timeout=10,
            )
            assert response.status_code == 200 and response.json()["version"] == "v1", base
        query = '{ trades(symbol: "BTC-USDT", from: "0", limit: 3) { price } }'
        answer = httpx.post(
            f"http://127.0.0.1:{port}/graphql",
            json={"query": query},
            headers={"X-API-Key": "cli-key"},
            timeout=30,
        )
        assert len(answer.json()["data"]["trades"]) == 3, answer.text
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0, errors.read_text()[-3000:]
        assert time.monotonic() - started < 60
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
