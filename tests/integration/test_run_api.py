"""`mdc run` serves the prediction API with the collector's live features, and stops cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from websockets.sync.client import connect

from actors.waiting import wait_until_sync
from serve.deployment import free_port

INSTRUMENT = "binance/BTC-USDT"


def _get(url: str, **kwargs) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=3, **kwargs)
    except httpx.HTTPError:
        return None


def test_mdc_run_serves_live_predictions(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "mdc.cli", "run", "--data-dir", str(tmp_path)]
    argv += ["--venues", "binance", "--api-port", str(port), "--duration", "120"]
    argv += ["--grpc-port", str(free_port())]
    env = {k: v for k, v in os.environ.items() if k != "MDC_API_KEYS"}
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    try:
        wait_until_sync(
            lambda: (r := _get(f"{base}/healthz")) and r.status_code == 200, 90, "healthz", 0.5
        )
        key = (Path(tmp_path) / "api-key").read_text().strip()
        assert _get(f"{base}/v1/features/{INSTRUMENT}").status_code == 401
        headers = {"X-API-Key": key}

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
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=90)
    assert proc.returncode == 0, out[-3000:]
    assert "prediction API on" in out and "stopped cleanly" in out


def test_configured_key_hashes_replace_the_generated_key(tmp_path, monkeypatch):
    from actors.api import KEY_FILE, key_ring
    from serve.auth import AuthResult, key_hash

    monkeypatch.delenv("MDC_API_KEYS", raising=False)
    monkeypatch.delenv("MDC_API_KEY_HASHES", raising=False)
    keys = key_ring(str(tmp_path), (key_hash("from-config"),))
    assert keys.check("from-config") is AuthResult.OK
    assert not (tmp_path / KEY_FILE).exists()
    generated = key_ring(str(tmp_path))
    assert generated.check((tmp_path / KEY_FILE).read_text().strip()) is AuthResult.OK
