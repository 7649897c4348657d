"""The DLQ admin API over real HTTP on 127.0.0.1 (ephemeral port) with a real aiohttp client."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from decimal import Decimal

import aiohttp
import pytest
from aiohttp import web

from mdc.dlq import DeadLetterQueue
from mdc.dlq.sinks import store_sink
from mdc.errors import ConfigError
from mdc.events import Trade
from mdc.store import Store
from serve.admin import KeyCheck, api_keys_from_env, build_app

T0 = 1_700_000_000_000_000_000
KEY = "s3cret-admin-key"
AUTH = {"X-API-Key": KEY}
GOOD_RAW = (
    b'{"e":"trade","E":1672515782136,"s":"BNBBTC","t":4242,"p":"0.001","q":"100",'
    b'"b":88,"a":50,"T":1672515782136,"m":true,"M":true}'
)
Client = Callable[..., Awaitable[tuple[int, object]]]


def trade(n: int) -> Trade:
    return Trade("binance", "BTC-USDT", T0 + n, T0 + n, Decimal("2.5"), Decimal("1"), "buy", n)


@asynccontextmanager
async def served(app: web.Application) -> AsyncIterator[Client]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        async with aiohttp.ClientSession(f"http://{host}:{port}") as session:

            async def call(method: str, path: str, **kw) -> tuple[int, object]:
                async with session.request(method, path, **kw) as response:
                    assert response.content_type == "application/json"
                    return response.status, await response.json()

            yield call
    finally:
        await runner.cleanup()


@pytest.fixture
def dlq(tmp_path, monkeypatch):
    monkeypatch.setenv("MDC_API_KEYS", f"other-key, {KEY}")
    with DeadLetterQueue.open(str(tmp_path), rng=random.Random(9)) as queue:
        queue.add_events("storage_failure", "binance", [trade(1), trade(2)], "EIO", T0)
        queue.add_raw("parse_failure", "binance", GOOD_RAW, "parser bug", T0 + 10)
        queue.add_raw("parse_failure", "kraken", b"\xfe\xff", "not json", T0 + 20)
        yield queue


def run(dlq, tmp_path, scenario: Callable[[Client], Awaitable[None]]) -> None:
    async def main() -> None:
        app = build_app(dlq, lambda: store_sink(str(tmp_path)), clock_ns=lambda: T0 + 99)
        async with served(app) as call:
            await asyncio.wait_for(scenario(call), timeout=20)

    asyncio.run(main())


def test_keys_are_required_and_checked(dlq, tmp_path):
    async def scenario(call: Client) -> None:
        assert await call("GET", "/healthz") == (200, {"status": "ok"})
        status, body = await call("GET", "/v1/dlq")
        assert status == 401 and "missing API key" in body["error"]
        assert (await call("GET", "/v1/dlq", headers={"X-API-Key": "nope"}))[0] == 403
        assert (await call("DELETE", "/v1/dlq?all=true", headers={"X-API-Key": "x"}))[0] == 403
        assert (await call("GET", "/v1/dlq", headers={"Authorization": "Bearer nope"}))[0] == 403
        assert (await call("GET", "/v1/dlq", headers={"Authorization": "Basic " + KEY}))[0] == 401
        assert (await call("GET", "/v1/dlq", headers={"Authorization": "Bearer " + KEY}))[0] == 200
        assert (await call("GET", "/v1/dlq", headers={"X-API-Key": "other-key"}))[0] == 200

    run(dlq, tmp_path, scenario)


def test_list_filters_and_show(dlq, tmp_path):
    async def scenario(call: Client) -> None:
        status, body = await call("GET", "/v1/dlq", headers=AUTH)
        assert status == 200 and [e["id"] for e in body["entries"]] == [1, 2, 3]
        assert body["counts"]["by_cause"]["parse_failure"] == 2
        query = {"cause": "parse_failure", "venue": "binance"}
        status, body = await call("GET", "/v1/dlq", headers=AUTH, params=query)
        assert [e["id"] for e in body["entries"]] == [2]
        query = {"since": str(T0 + 10), "until": "2023-11-14T22:13:20.000000021Z", "limit": "1"}
        status, body = await call("GET", "/v1/dlq", headers=AUTH, params=query)
        assert [e["id"] for e in body["entries"]] == [2]
        status, body = await call("GET", "/v1/dlq/1", headers=AUTH)
        assert status == 200 and body["error"] == "EIO"
        assert [e["trade_id"] for e in body["events"]] == [1, 2]
        assert body["events"][0]["price"] == "2.5"
        status, body = await call("GET", "/v1/dlq/3", headers=AUTH)
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
        ("POST", "/v1/dlq/replay", {"data": b"{not json"}, 422, "body"),
        ("POST", "/v1/dlq/replay", {"data": b'{"ids": [1]}\xff'}, 422, "body"),
        ("POST", "/v1/dlq/replay", {"data": b"x" * (2 * 1024 * 1024)}, 413, None),
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
    ],
)
def test_bad_input_gets_clear_json_errors(dlq, tmp_path, case):
    method, path, kw, status, field = case

    async def scenario(call: Client) -> None:
        got, body = await call(method, path, headers=AUTH, **kw)
        assert got == status and body["error"]
        assert body.get("field") == field

    run(dlq, tmp_path, scenario)
    assert [e.state for e in dlq.list()] == ["pending"] * 3


def test_replay_by_filter_then_one_is_idempotent(dlq, tmp_path):
    async def scenario(call: Client) -> None:
        body = {"filter": {"venue": "binance"}}
        assert await call("POST", "/v1/dlq/replay", headers=AUTH, json=body) == (
            200,
            {"replayed": [1, 2], "failed": {}},
        )
        status, body = await call("POST", "/v1/dlq/1/replay", headers=AUTH)
        assert (status, body["replayed"]) == (200, [1])
        status, body = await call("POST", "/v1/dlq/replay", headers=AUTH, json={"ids": [3]})
        assert body["replayed"] == [] and "kraken: malformed message" in body["failed"]["3"]
        status, body = await call("GET", "/v1/dlq", headers=AUTH, params={"state": "replayed"})
        assert [e["id"] for e in body["entries"]] == [1, 2]

    run(dlq, tmp_path, scenario)
    with Store.open(str(tmp_path), readonly=True) as store:
        assert sorted(t.trade_id for t in store.iter_events(types=["trade"])) == [1, 2, 4242]


def test_purge_by_filter_and_all(dlq, tmp_path):
    async def scenario(call: Client) -> None:
        status, body = await call("DELETE", "/v1/dlq?venue=kraken", headers=AUTH)
        assert (status, body) == (200, {"purged": 1})
        status, body = await call("DELETE", "/v1/dlq?all=true", headers=AUTH)
        assert (status, body) == (200, {"purged": 2})
        status, body = await call("GET", "/v1/dlq", headers=AUTH)
        assert body["entries"] == [] and body["counts"]["entries"] == 0

    run(dlq, tmp_path, scenario)


def test_replay_into_a_locked_store_is_409_and_keeps_entries(dlq, tmp_path):
    async def scenario(call: Client) -> None:
        status, body = await call("POST", "/v1/dlq/replay", headers=AUTH, json={"all": True})
        assert status == 409 and "open for writing by another process" in body["error"]

    with Store.open(str(tmp_path)):
        run(dlq, tmp_path, scenario)
    assert [e.state for e in dlq.list()] == ["pending"] * 3


def test_key_configuration():
    assert api_keys_from_env({"MDC_API_KEYS": " a, ,b "}) == ("a", "b")
    with pytest.raises(ConfigError, match="MDC_API_KEYS"):
        api_keys_from_env({"MDC_API_KEYS": " , "})
    with pytest.raises(ConfigError, match="at least one"):
        KeyCheck(())
    check = KeyCheck(("alpha", "beta"))
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
