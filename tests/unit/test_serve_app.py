"""serve.app in-process (httpx over ASGI, no Ray): auth, validation, errors, routes."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest

from serve.ab import ABRouter
from serve.app import MAX_BODY_BYTES, build_app
from serve.auth import KeyRing
from serve.features_source import FeatureSourceUnavailable
from tests.unit.test_serve_doubles import DictFeatureSource, LinearModel, Vector

KEY = {"X-API-Key": "k1"}
VECTOR = Vector("binance", "BTC-USDT", 123, {"f0": 1.0, "f1": None, "f2": 2.0, "extra": 5})


class BrokenSource(DictFeatureSource):
    def lookup(self, venue, symbol):
        if symbol == "CRASH":
            raise RuntimeError("boom")
        if symbol == "GONE":
            raise FeatureSourceUnavailable("actor gone")
        return super().lookup(venue, symbol)


def make_app(source=None):
    router = ABRouter(LinearModel("v1"), LinearModel("v2", (-1.0, 1.0, 0.0)), 0.0)
    source = source or BrokenSource({("binance", "BTC-USDT"): VECTOR})
    return build_app(router, source, KeyRing(("k1", "k2")))


def call(app, method, path, **kw):
    async def go():
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.request(method, path, **kw)

    return asyncio.run(go())


@pytest.fixture(scope="module")
def app():
    return make_app()


def test_auth(app):
    assert call(app, "GET", "/healthz").json() == {"status": "ok"}
    missing = call(app, "GET", "/v1/models")
    assert missing.status_code == 401 and "missing API key" in missing.json()["error"]
    assert missing.headers["www-authenticate"] == "Bearer"
    wrong = call(app, "GET", "/v1/models", headers={"X-API-Key": "nope"})
    assert wrong.status_code == 403 and wrong.json() == {"error": "API key not accepted"}
    bearer = call(app, "GET", "/v1/models", headers={"Authorization": "Bearer k2"})
    assert bearer.status_code == 200
    assert call(app, "POST", "/v1/predict", json={"features": [1, 2, 3]}).status_code == 401


def test_predict_explicit_and_live(app):
    got = call(app, "POST", "/v1/predict", headers=KEY, json={"features": [1, 0, 0]}).json()
    assert got["model"] == "direction" and got["version"] == "v1" and got["variant"] == "A"
    assert got["label"] == 1 and got["probability_up"] == pytest.approx(0.7310586)
    assert got["t_ns"] is None and got["ts_recv"] is None and got["age_ms"] is None
    body = {"venue": "binance", "symbol": "BTC-USDT", "model": "v2"}
    live = call(app, "POST", "/v1/predict", headers=KEY, json=body).json()
    assert live["version"] == "v2" and live["variant"] == "B" and live["t_ns"] == 123
    assert live["ts_recv"] == 123 and live["age_ms"] == 0
    assert live["probability_up"] == pytest.approx(0.2689414)


BAD_BODIES = [
    (b"{not json", "body"),
    (b"[1, 2]", "body"),
    (b'{"features": [NaN, 1, 2]}', "body"),
    (b'{"features": [1e400, 1, 2]}', "body"),
    (b'{"features": [1e39, 1, 2]}', "features"),
    (b'{"features": "1,2,3"}', "features"),
    (b'{"features": [1, "2", 3]}', "features"),
    (b'{"features": [1, true, 3]}', "features"),
    (b'{"features": [1, 2]}', "features"),
    (b'{"features": [1, 2, 3], "venue": "binance"}', "body"),
    (b"{}", "body"),
    (b'{"venue": "binance"}', "symbol"),
    (b'{"venue": 5, "symbol": "BTC-USDT"}', "venue"),
    (b'{"features": [1, 2, 3], "model": "v9"}', "model"),
    (b'{"features": [1, 2, 3], "model": 2}', "model"),
    (b'{"features": [1, 2, 3], "colour": "red"}', "colour"),
    (b"[" * 20_000 + b"]" * 20_000, "body"),
]


@pytest.mark.parametrize(("raw", "field"), BAD_BODIES)
def test_bad_bodies_are_422_naming_the_field(app, raw, field):
    headers = KEY | {"Content-Type": "application/json"}
    response = call(app, "POST", "/v1/predict", headers=headers, content=raw)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field and response.json()["error"]


def test_huge_bodies_are_413(app):
    huge = b'{"features": [' + b"1.0," * (MAX_BODY_BYTES // 4) + b"1.0]}"
    response = call(app, "POST", "/v1/predict", headers=KEY, content=huge)
    assert response.status_code == 413 and response.json()["field"] == "body"


def test_unknown_instrument_404_and_source_failures(app):
    body = {"venue": "binance", "symbol": "ETH-USDT"}
    response = call(app, "POST", "/v1/predict", headers=KEY, json=body)
    assert response.status_code == 404 and "binance/ETH-USDT" in response.json()["error"]
    assert call(app, "GET", "/v1/features/kraken/BTC-USD", headers=KEY).status_code == 404
    gone = call(app, "GET", "/v1/features/binance/GONE", headers=KEY)
    assert gone.status_code == 503 and gone.json() == {"error": "actor gone"}
    assert gone.headers["retry-after"] == "1"
    crash = call(app, "GET", "/v1/features/binance/CRASH", headers=KEY)
    assert crash.status_code == 500 and "internal error" in crash.json()["error"]


def test_live_features_the_model_cannot_use_are_422():
    source = DictFeatureSource({("b", "X"): Vector("b", "X", 1, {"f0": 1.0})})
    response = call(
        make_app(source), "POST", "/v1/predict", headers=KEY, json={"venue": "b", "symbol": "X"}
    )
    assert response.status_code == 422 and "f1" in response.json()["error"]


def test_a_copy_older_than_the_bound_is_503_with_retry_after_never_an_old_answer():
    source = DictFeatureSource({("binance", "BTC-USDT"): VECTOR}, age_s=6.5)
    stale = make_app(source)
    for method, path, body in (
        ("POST", "/v1/predict", {"venue": "binance", "symbol": "BTC-USDT"}),
        ("GET", "/v1/features/binance/BTC-USDT", None),
    ):
        response = call(stale, method, path, headers=KEY, json=body)
        assert response.status_code == 503 and response.headers["retry-after"] == "1"
        assert "6.5 s old, beyond 5 s" in response.json()["error"]
    explicit = call(stale, "POST", "/v1/predict", headers=KEY, json={"features": [1, 0, 0]})
    assert explicit.status_code == 200  # no live features involved
    fresh = make_app(DictFeatureSource({("binance", "BTC-USDT"): VECTOR}, age_s=4.9))
    got = call(fresh, "GET", "/v1/features/binance/BTC-USDT", headers=KEY).json()
    assert got["age_ms"] == 4900


def test_features_and_instruments(app):
    got = call(app, "GET", "/v1/features/binance/BTC-USDT", headers=KEY).json()
    assert got == {
        "venue": "binance",
        "symbol": "BTC-USDT",
        "t_ns": 123,
        "ts_recv": 123,
        "age_ms": 0,
        "features": VECTOR.values,
    }
    listed = call(app, "GET", "/v1/features", headers=KEY).json()
    assert listed == {"instruments": [["binance", "BTC-USDT"]]}


def test_unknown_routes_and_methods_are_json(app):
    missing = call(app, "GET", "/v1/nothing", headers=KEY)
    assert missing.status_code == 404 and missing.json() == {"error": "Not Found"}
    assert call(app, "GET", "/v1/predict", headers=KEY).status_code == 405


def test_models_and_ab_control():
    app = make_app()
    for _ in range(3):
        call(app, "POST", "/v1/predict", headers=KEY, json={"features": [0, 0, 0]})
    listed = call(app, "GET", "/v1/models", headers=KEY).json()
    assert [m["version"] for m in listed["models"]] == ["v1", "v2"]
    assert listed["models"][0]["features"] == ["f0", "f1", "f2"]
    assert listed["ab"]["A"]["requests"] == 3 and listed["ab"]["A"]["p50_ms"] > 0
    assert listed["ab"]["B"]["requests"] == 0 and listed["ab"]["B"]["p99_ms"] is None
    changed = call(app, "PUT", "/v1/ab", headers=KEY, json={"A": "v2", "B": "v1", "weight_b": 1})
    assert changed.status_code == 200
    assert changed.json()["ab"]["A"]["version"] == "v2" and changed.json()["ab"]["B"]["weight"] == 1
    got = call(app, "POST", "/v1/predict", headers=KEY, json={"features": [0, 0, 0]}).json()
    assert got["variant"] == "B" and got["version"] == "v1"
    assert call(app, "PUT", "/v1/ab", json={"weight_b": 0}).status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ({"A": "v7"}, "A"),
        ({"B": 3}, "B"),
        ({"weight_b": 2}, "weight_b"),
        ({"C": "v1"}, "C"),
    ],
)
def test_bad_ab_changes_are_422(app, body, field):
    response = call(app, "PUT", "/v1/ab", headers=KEY, json=body)
    assert response.status_code == 422 and response.json()["field"] == field


def test_openapi_document_is_served_behind_the_key(app):
    missing = call(app, "GET", "/openapi.json")
    assert missing.status_code == 401 and "missing API key" in missing.json()["error"]
    assert call(app, "GET", "/openapi.json", headers={"X-API-Key": "nope"}).status_code == 403
    doc = call(app, "GET", "/openapi.json", headers=KEY)
    assert doc.status_code == 200 and doc.headers["content-type"] == "application/json"
    paths = doc.json()["paths"]
    assert {"/v1/predict", "/v1/features/{venue}/{symbol}", "/healthz"} <= set(paths)
    assert "/openapi.json" not in paths
    body = paths["/v1/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert [sorted(alt["required"]) for alt in body["oneOf"]] == [["features"], ["symbol", "venue"]]


class ThreadRecordingModel(LinearModel):
    """Records the thread each prediction ran on."""

    def __init__(self, version: str, inference_s: float) -> None:
        super().__init__(version)
        self.inference_s = inference_s
        self.threads: list[int] = []

    def predict_checked(self, x):
        self.threads.append(threading.get_ident())
        return super().predict_checked(x)


@pytest.mark.parametrize(("inference_s", "on_loop"), [(0.00002, True), (0.01, False)])
def test_fast_models_predict_on_the_event_loop_slow_ones_on_a_worker_thread(inference_s, on_loop):
    model = ThreadRecordingModel("v1", inference_s)
    app = build_app(ABRouter(model, model, 0.0), DictFeatureSource({}), KeyRing(("k1",)))
    response = call(app, "POST", "/v1/predict", headers=KEY, json={"features": [1, 0, 0]})
    assert response.status_code == 200
    assert (model.threads == [threading.get_ident()]) is on_loop  # `call` runs the loop here
