"""The DLQ admin API over real HTTP: serve.admin's FastAPI app (alone, and mounted in the prediction
API) on a real uvicorn (serve.http_limits) on 127.0.0.1, with a real httpx client."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI

from mdc.dlq import DeadLetterQueue
from mdc.dlq.sinks import store_sink
from mdc.errors import ConfigError
from mdc.events import Trade
from mdc.store import Store
from serve import app as prediction
from serve.ab import ABRouter
from serve.admin import DlqAdmin, build_app
from serve.auth import KeyRing, api_keys_from_env
from serve.http_limits import serving, uvicorn_config
from tests.unit.test_serve_doubles import DictFeatureSource, LinearModel

T0 = 1_700_000_000_000_000_000
KEY = "s3cret-admin-key"
AUTH = {"X-API-Key": KEY}
GOOD_RAW = (
    b'{"e":"trade","E":1672515782136,"s":"BNBBTC","t":4242,"p":"0.001","q":"100",'
    b'"b":88,"a":50,"T":1672515782136,"m":true,"M":true}'
)
Client = Callable[..., tuple[int, object]]


def trade(n: int) -> Trade:
    return Trade("binance", "BTC-USDT", T0 + n, T0 + n, Decimal("2.5"), Decimal("1"), "buy", n)


@contextmanager
def served(app: FastAPI) -> Iterator[Client]:
    config = uvicorn_config(app, log_level="warning", lifespan="off")
    with serving(config) as url, httpx.Client(base_url=url, timeout=20) as session:

        def call(method: str, path: str, **kw) -> tuple[int, object]:
            response = session.request(method, path, **kw)
            assert response.headers["content-type"] == "application/json"
            return response.status_code, response.json()

        yield call


@pytest.fixture
def dlq(tmp_path, monkeypatch):
    monkeypatch.setenv("MDC_API_KEYS", f"other-key, {KEY}")
    with DeadLetterQueue.open(str(tmp_path), rng=random.Random(9)) as queue:
        queue.add_events("storage_failure", "binance", [trade(1), trade(2)], "EIO", T0)
        queue.add_raw("parse_failure", "binance", GOOD_RAW, "parser bug", T0 + 10)
        queue.add_raw("parse_failure", "kraken", b"\xfe\xff", "not json", T0 + 20)
        yield queue


def admin_of(dlq, tmp_path) -> DlqAdmin:
    return DlqAdmin(dlq, lambda: store_sink(str(tmp_path)), clock_ns=lambda: T0 + 99)


def run(dlq, tmp_path, scenario: Callable[[Client], None]) -> None:
    with served(build_app(admin_of(dlq, tmp_path), KeyRing(api_keys_from_env()))) as call:
        scenario(call)


def test_keys_are_required_and_checked(dlq, tmp_path):
    def scenario(call: Client) -> None:
        assert call("GET", "/healthz") == (200, {"status": "ok"})
        status, body = call("GET", "/v1/dlq")
        assert status == 401 and "missing API key" in body["error"]
        assert (call("GET", "/v1/dlq", headers={"X-API-Key": "nope"}))[0] == 403
        assert (call("DELETE", "/v1/dlq?all=true", headers={"X-API-Key": "x"}))[0] == 403
        assert (call("GET", "/v1/dlq", headers={"Authorization": "Bearer nope"}))[0] == 403
        assert (call("GET", "/v1/dlq", headers={"Authorization": "Basic " + KEY}))[0] == 401
        assert (call("GET", "/v1/dlq", headers={"Authorization": "Bearer " + KEY}))[0] == 200
        assert (call("GET", "/v1/dlq", headers={"X-API-Key": "other-key"}))[0] == 200

    run(dlq, tmp_path, scenario)


def test_list_filters_and_show(dlq, tmp_path):
    def scenario(call: Client) -> None:
        status, body = call("GET", "/v1/dlq", headers=AUTH)
        assert status == 200 and [e["id"] for e in body["entries"]] == [1, 2, 3]
        assert body["counts"]["by_cause"]["parse_failure"] == 2
        query = {"cause": "parse_failure", "venue": "binance"}
        status, body = call("GET", "/v1/dlq", headers=AUTH, params=query)
        assert [e["id"] for e in body["entries"]] == [2]
        query = {"since": str(T0 + 10), "until": "2023-11-14T22:13:20.000000021Z", "limit": "1"}
        status, body = call("GET", "/v1/dlq", headers=AUTH, params=query)
        assert [e["id"] for e in body["entries"]] == [2]
        status, body = call("GET", "/v1/dlq/1", headers=AUTH)
        assert status == 200 and body["error"] == "EIO"
        assert [e["trade_id"] for e in body["events"]] == [1, 2]
        assert body["events"][0]["price"] == "2.5"
        status, body = call("GET", "/v1/dlq/3", headers=AUTH)
        assert (body["raw"], body["raw_encoding"]) == ("feff", "hex")

    run(dlq, tmp_path, scenario)


@pytest.mark.parametrize(
    "case",
    [
        ("GET", "/v1/dlq/99", {}, 404, None),
        ("POST", "/v1/dlq/99/replay", {}, 404, None),
        ("GET", "/v1/dlq/abc", {}, 422, "id"),
        ("GET", "/v1/dlq/" + "9" * 5000, {}, 422, "id"),
        ("GET", "/v1/dlq/%C2%B2", {}, 422, "id"),  # superscript two: isdigit, not int
        ("GET", "/v1/dlq/%EF%BC%91", {}, 422, "id"),  # full-width one: int() reads 1
        ("POST", "/v1/dlq/%EF%BC%91/replay", {}, 422, "id"),
        ("GET", f"/v1/dlq/{2**63}", {}, 422, "id"),
        ("GET", "/v1/dlq/0", {}, 422, "id"),
        ("GET", "/v1/dlq?limit=%EF%BC%91", {}, 422, "limit"),
        ("GET", "/v1/dlq?limit=" + "1" * 5000, {}, 422, "limit"),
        ("POST", "/v1/dlq/replay", {"json": {"ids": [2**63]}}, 422, "ids"),
        ("GET", "/v1/dlq?state=lost", {}, 422, "state"),
        ("GET", "/v1/dlq?since=yesterday", {}, 422, "since"),
        ("GET", "/v1/dlq?since=5&until=5", {}, 422, "until"),
        ("GET", "/v1/dlq?limit=0", {}, 422, "limit"),
        ("GET", "/v1/dlq?stat=parked", {}, 422, "stat"),
        ("DELETE", "/v1/dlq", {}, 422, "filter"),
        ("DELETE", "/v1/dlq?all=yes", {}, 422, "all"),
        ("DELETE", "/v1/dlq?sate=parked", {}, 422, "sate"),
        ("POST", "/v1/dlq/replay", {"content": b"{not json"}, 422, "body"),
        ("POST", "/v1/dlq/replay", {"content": b'{"ids": [1]}\xff'}, 422, "body"),
        ("POST", "/v1/dlq/replay", {"content": b"x" * (2 * 1024 * 1024)}, 413, None),
        ("POST", "/v1/dlq/replay", {"json": []}, 422, "body"),
        ("POST", "/v1/dlq/replay", {"json": {}}, 422, "body"),
        ("POST", "/v1/dlq/replay", {"json": {"ids": [1], "all": True}}, 422, "body"),
        ("POST", "/v1/dlq/replay", {"json": {"ids": ["1"]}}, 422, "ids"),
        ("POST", "/v1/dlq/replay", {"json": {"ids": [True]}}, 422, "ids"),
        ("POST", "/v1/dlq/replay", {"json": {"filter": {"cause": 3}}}, 422, "cause"),
        ("POST", "/v1/dlq/replay", {"json": {"filter": {"colour": "red"}}}, 422, "colour"),
        ("POST", "/v1/dlq/replay", {"json": {"filter": {"since": [1]}}}, 422, "since"),
        ("POST", "/v1/dlq/replay", {"json": {"all": False}}, 422, "all"),
        ("GET", "/v1/nothing", {}, 404, None),
        ("PUT", "/v1/dlq", {}, 405, None),
        ("POST", "/v1/dlq/replay", {"content": b"[" * 100_000 + b"]" * 100_000}, 422, "body"),
    ],
)
def test_bad_input_gets_clear_json_errors(dlq, tmp_path, case):
    method, path, kw, status, field = case

    def scenario(call: Client) -> None:
        got, body = call(method, path, headers=AUTH, **kw)
        assert got == status and body["error"]
        assert body.get("field") == field

    run(dlq, tmp_path, scenario)
    assert [e.state for e in dlq.list()] == ["pending"] * 3


def test_replay_by_filter_then_one_is_idempotent(dlq, tmp_path):
    def scenario(call: Client) -> None:
        body = {"filter": {"venue": "binance"}}
        assert call("POST", "/v1/dlq/replay", headers=AUTH, json=body) == (
            200,
            {"replayed": [1, 2], "failed": {}},
        )
        status, body = call("POST", "/v1/dlq/1/replay", headers=AUTH)
        assert (status, body["replayed"]) == (200, [1])
        status, body = call("POST", "/v1/dlq/replay", headers=AUTH, json={"ids": [3]})
        assert body["replayed"] == [] and "kraken: malformed message" in body["failed"]["3"]
        status, body = call("GET", "/v1/dlq", headers=AUTH, params={"state": "replayed"})
        assert [e["id"] for e in body["entries"]] == [1, 2]

    run(dlq, tmp_path, scenario)
    with Store.open(str(tmp_path), readonly=True) as store:
        assert sorted(t.trade_id for t in store.iter_events(types=["trade"])) == [1, 2, 4242]


def test_purge_by_filter_and_all(dlq, tmp_path):
    def scenario(call: Client) -> None:
        status, body = call("DELETE", "/v1/dlq?venue=kraken", headers=AUTH)
        assert (status, body) == (200, {"purged": 1})
        status, body = call("DELETE", "/v1/dlq?all=true", headers=AUTH)
        assert (status, body) == (200, {"purged": 2})
        status, body = call("GET", "/v1/dlq", headers=AUTH)
        assert body["entries"] == [] and body["counts"]["entries"] == 0

    run(dlq, tmp_path, scenario)


def test_replay_into_a_locked_store_is_409_and_keeps_entries(dlq, tmp_path):
    def scenario(call: Client) -> None:
        status, body = call("POST", "/v1/dlq/replay", headers=AUTH, json={"all": True})
        assert status == 409 and "open for writing by another process" in body["error"]

    with Store.open(str(tmp_path)):
        run(dlq, tmp_path, scenario)
    assert [e.state for e in dlq.list()] == ["pending"] * 3


def test_key_configuration():
    assert api_keys_from_env({"MDC_API_KEYS": " a, ,b "}) == ("a", "b")
    with pytest.raises(ConfigError, match="MDC_API_KEYS"):
        api_keys_from_env({"MDC_API_KEYS": " , "})
    with pytest.raises(ConfigError, match="at least one"):
        KeyRing(())
    check = KeyRing(("alpha", "beta"))
    assert check.allows("beta") and not check.allows("bet") and not check.allows("")


def test_run_admin_refuses_to_start_without_keys(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "MDC_API_KEYS"}
    done = subprocess.run(
        [sys.executable, "-m", "serve.admin", "--data-dir", str(tmp_path), "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and "MDC_API_KEYS is empty" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "dlq").exists()


def test_admin_routes_answer_inside_the_prediction_api_with_its_keys(dlq, tmp_path):
    router = ABRouter(LinearModel("v1"), LinearModel("v2"), 0.0)
    keys = KeyRing(api_keys_from_env())
    app = prediction.build_app(router, DictFeatureSource({}), keys, dlq=admin_of(dlq, tmp_path))
    with served(app) as call:
        status, body = call("GET", "/v1/dlq")
        assert status == 401 and "missing API key" in body["error"]
        assert call("GET", "/v1/dlq/1", headers={"X-API-Key": "nope"})[0] == 403
        status, body = call("GET", "/v1/dlq", headers=AUTH)
        assert status == 200 and [e["id"] for e in body["entries"]] == [1, 2, 3]
        assert call("GET", "/v1/dlq/abc", headers=AUTH) == (
            422,
            {"error": f"id: must be an integer from 1 to {2**63 - 1}", "field": "id"},
        )
        assert call("GET", "/v1/models", headers=AUTH)[0] == 200
        paths = call("GET", "/openapi.json", headers=AUTH)[1]["paths"]  # type: ignore[index]
        assert {"/v1/predict", "/v1/dlq", "/v1/dlq/{id}/replay"} <= set(paths)
