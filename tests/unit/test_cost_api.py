"""GET /v1/cost through the shared API stack (keys, JSON errors) on a real store; and the browser
renderer (serve/ui/static/cost.js) on a report of that store, in Node with a minimal DOM."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from actors.panel import UsageTotals, write_status
from mdc.cost import PRICE_NAMES
from serve.auth import KeyRing
from serve.cost_api import cost_router
from serve.jsonapi import new_app
from tests.unit.test_cost import provider_row, write_store

KEY = {"X-API-Key": "k1"}


def make_app(store_dir: str | None):
    keys = KeyRing(("k1",))
    app = new_app("cost test", keys)
    app.include_router(cost_router(store_dir, keys))
    return app


def get(app, path: str, headers: dict | None = None) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get(path, headers=headers)

    return asyncio.run(go())


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("store")
    write_store(data)
    totals = UsageTotals(since_ns=0)
    rows = {"provider:binance": provider_row(11, 4000, 2)}
    totals.fold(rows)
    write_status(str(data), rows, totals.as_dict())
    return data


@pytest.fixture(scope="module")
def app(store):
    return make_app(str(store))


def test_a_key_is_required(app):
    missing = get(app, "/v1/cost")
    assert missing.status_code == 401 and "error" in missing.json()
    assert get(app, "/v1/cost", {"X-API-Key": "nope"}).status_code == 403


def test_the_report_shape(app, store):
    answer = get(app, "/v1/cost", KEY)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert set(report) == {
        "prices", "span", "totals", "storage", "providers", "monthly", "recommendations", "notes",
    }  # fmt: skip
    assert set(report["storage"]) == {"by_venue", "by_symbol", "by_type", "by_tier"}
    assert [p["name"] for p in report["prices"]] == list(PRICE_NAMES)
    sizes = sum(p.stat().st_size for p in store.rglob("*") if p.is_file())
    assert report["totals"]["storage_bytes"] == sizes
    provider = report["providers"][0]
    assert provider["venue"] == "binance" and provider["api_calls_by_kind"]["snapshot"] == 2
    assert report["span"]["usage_ns"] > 0
    assert all(isinstance(report["monthly"][k], str) for k in ("storage_cost", "total_cost"))


def test_prices_come_from_the_query(app):
    cheap = get(app, "/v1/cost?storage_gb_month=0&ingress_gb=0&egress_gb=0&api_calls_1000=0", KEY)
    assert cheap.json()["monthly"]["total_cost"] == "0.000000"
    prices = {p["name"]: p["value"] for p in cheap.json()["prices"]}
    assert prices["storage_gb_month"] == "0"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("storage_gb_month=abc", "storage_gb_month"),
        ("egress_gb=-1", "egress_gb"),
        ("ingress_gb=inf", "ingress_gb"),
        ("storage=1", "storage"),
        ("egress_gb=1&egress_gb=2", "egress_gb"),
    ],
)
def test_a_bad_price_is_a_400_naming_it(app, query, field):
    answer = get(app, f"/v1/cost?{query}", KEY)
    assert answer.status_code == 400
    assert answer.json()["field"] == field and field in answer.json()["error"]


def test_without_a_data_dir_it_is_a_404(tmp_path):
    for app in (make_app(None), make_app(str(tmp_path / "absent"))):
        answer = get(app, "/v1/cost", KEY)
        assert answer.status_code == 404 and "data dir" in answer.json()["error"]
