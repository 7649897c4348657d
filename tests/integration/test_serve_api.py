"""The prediction API on a real Ray Serve instance (one startup for the file) with the shipped
models and a FeatureTracker fed from a real event store."""

from __future__ import annotations

import asyncio
import time

import httpx
import numpy as np
import onnxruntime as ort
import pytest

from mdc.features import FeatureConfig, FeatureTracker
from mdc.store import Store
from models.runtime import SHIPPED, discover_models
from models.synthetic import synthetic_events
from serve.ab import bucket
from serve.auth import KeyRing
from serve.deployment import ServeSpec, free_port, start_serve, stop_serve
from serve.features_source import HOUR_NS

pytestmark = pytest.mark.ray

CLIENTS = [f"client-{i}" for i in range(120)]
KEY = {"X-API-Key": CLIENTS[0]}
VENUE, SYMBOL = "binance", "BTC-USDT"
LIVE = {"venue": VENUE, "symbol": SYMBOL}


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("store")
    events = list(synthetic_events(seed=11, seconds=40))
    with Store.open(str(path)) as store:
        store.append(events[: len(events) // 2])
    return path, events[len(events) // 2 :]


@pytest.fixture(scope="module")
def url(ray_runtime, store_dir):
    spec = ServeSpec(keys=KeyRing(CLIENTS), data_dir=str(store_dir[0]), weight_b=0.25)
    base = start_serve(spec, "127.0.0.1", free_port()).url
    yield base
    stop_serve()


def get(url, path, **kw):
    return httpx.get(url + path, timeout=10, **kw)


def post(url, path, body, headers=KEY):
    return httpx.post(url + path, json=body, headers=headers, timeout=10)


def expected_tracker(store_path) -> FeatureTracker:
    with Store.open(str(store_path), readonly=True) as store:
        newest = max(e.ts_recv for s in store.streams() for e in store.tail(s, 1))
        oldest = min(e.ts_recv for e in store.iter_events())
        start = max(newest - HOUR_NS, oldest)  # a window longer than the store is incomplete
        tracker = FeatureTracker(FeatureConfig.default(), observed_from_ns=start)
        for event in store.iter_events(start_ns=start):
            tracker.on_event(event)
    return tracker


def test_auth_and_health(url):
    assert get(url, "/healthz").json() == {"status": "ok"}
    assert get(url, "/v1/models").status_code == 401
    assert get(url, "/v1/models", headers={"X-API-Key": "nope"}).status_code == 403
    assert (
        get(url, "/v1/models", headers={"Authorization": f"Bearer {CLIENTS[3]}"}).status_code == 200
    )


@pytest.mark.parametrize(
    ("raw", "field", "status"),
    [
        (b"{oops", "body", 422),
        (b'{"features": [NaN]}', "body", 422),
        (b'{"features": "x"}', "features", 422),
        (b'{"features": [1, 2]}', "features", 422),
        (b'{"venue": "binance"}', "symbol", 422),
        (b'{"features": [0], "model": "v99"}', "model", 422),
        (b'{"features": [' + b"1," * 40_000 + b"1]}", "body", 413),
    ],
)
def test_bad_requests_are_4xx_naming_the_field(url, raw, field, status):
    headers = KEY | {"Content-Type": "application/json"}
    response = httpx.post(url + "/v1/predict", content=raw, headers=headers, timeout=10)
    assert response.status_code == status and response.json()["field"] == field


def test_unknown_instrument_is_404(url):
    assert post(url, "/v1/predict", {"venue": VENUE, "symbol": "NOPE-USDT"}).status_code == 404
    assert get(url, "/v1/features/binance/NOPE-USDT", headers=KEY).status_code == 404


def test_explicit_predictions_equal_in_process_onnxruntime(url):
    for model in discover_models(SHIPPED):
        session = ort.InferenceSession(str(model.directory / "model.onnx"))
        x = np.random.default_rng(3).normal(size=(20, len(model.features))).astype(np.float32)
        labels, probabilities = session.run(None, {"input": x})
        up = probabilities[:, model.card["classes"].index(1)]
        for row, label, p_up in zip(x.tolist(), labels, up, strict=True):
            body = {"features": row, "model": model.version}
            got = post(url, "/v1/predict", body).json()
            assert got["version"] == model.version and got["label"] == int(label)
            assert got["probability_up"] == pytest.approx(float(p_up), abs=1e-6)


def test_features_follow_the_store(url, store_dir):
    path, later = store_dir
    got = get(url, f"/v1/features/{VENUE}/{SYMBOL}", headers=KEY).json()
    expected = expected_tracker(path).vector(VENUE, SYMBOL)
    assert got["t_ns"] == expected.t_ns and got["features"] == pytest.approx(expected.values)
    with Store.open(str(path)) as store:
        store.append(later)
    final = expected_tracker(path).vector(VENUE, SYMBOL)
    deadline = time.monotonic() + 10
    while got["t_ns"] != final.t_ns and time.monotonic() < deadline:
        got = get(url, f"/v1/features/{VENUE}/{SYMBOL}", headers=KEY).json()
    assert got["t_ns"] == final.t_ns and got["features"] == pytest.approx(final.values)
    live = post(url, "/v1/predict", {"venue": VENUE, "symbol": SYMBOL, "model": "v1"}).json()
    model = discover_models(SHIPPED)[0]
    want = model.predict_matrix(model.vectorize(final.values).reshape(1, -1))[0]
    assert live["t_ns"] == final.t_ns and live["probability_up"] == pytest.approx(
        want.probability_up
    )


def test_ab_split_is_sticky_and_weighted(url):
    variants = {}
    for key in CLIENTS:
        body = post(url, "/v1/predict", LIVE, {"X-API-Key": key}).json()
        variants[key] = body.get("variant")
    assert all(variants[k] == ("B" if bucket(k) < 0.25 else "A") for k in CLIENTS)
    share_b = sum(v == "B" for v in variants.values()) / len(CLIENTS)
    assert 0.12 < share_b < 0.38
    again = [post(url, "/v1/predict", LIVE, {"X-API-Key": k}).json() for k in CLIENTS[:10]]
    assert [b["variant"] for b in again] == [variants[k] for k in CLIENTS[:10]]
    stats = get(url, "/v1/models", headers=KEY).json()["ab"]
    assert (
        stats["A"]["requests"] > 0 and stats["B"]["requests"] > 0 and stats["B"]["weight"] == 0.25
    )


def test_swap_under_concurrent_load_fails_nothing(url):
    statuses: list[int] = []
    versions: set[str] = set()

    async def client(c: httpx.AsyncClient, key: str, stop: asyncio.Event) -> None:
        while not stop.is_set():
            response = await c.post("/v1/predict", json=LIVE, headers={"X-API-Key": key})
            statuses.append(response.status_code)
            versions.add(response.json().get("version"))

    async def swapper(c: httpx.AsyncClient, stop: asyncio.Event) -> None:
        try:
            for i in range(12):
                served = len(statuses)
                while len(statuses) < served + 10:
                    await asyncio.sleep(0.005)
                pair = {"A": "v2", "B": "v1"} if i % 2 == 0 else {"A": "v1", "B": "v2"}
                response = await c.put("/v1/ab", json=pair | {"weight_b": 0.5}, headers=KEY)
                assert response.status_code == 200
        finally:
            stop.set()

    async def scenario() -> None:
        stop = asyncio.Event()
        async with httpx.AsyncClient(base_url=url, timeout=10) as c:
            clients = [client(c, key, stop) for key in CLIENTS[:6]]
            await asyncio.wait_for(asyncio.gather(swapper(c, stop), *clients), timeout=60)

    asyncio.run(scenario())
    assert len(statuses) >= 120 and set(statuses) == {200}
    assert versions == {"v1", "v2"}
