"""serve.ab: sticky weighted routing, pinning, metrics and hot swap under threads."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from serve.ab import PINNED, ABRouter, LatencyWindow, UnknownModel, bucket
from tests.unit.test_serve_doubles import LinearModel

KEYS = [f"client-{i}" for i in range(2000)]


def router(weight_b: float = 0.2, **kw) -> ABRouter:
    return ABRouter(LinearModel("v1"), LinearModel("v2"), weight_b, **kw)


def test_bucket_is_a_stable_hash_in_unit_interval():
    assert bucket("client-0") == bucket("client-0")
    assert bucket("alpha") == pytest.approx(0.5579218, abs=1e-6)
    assert all(0.0 <= bucket(k) < 1.0 for k in KEYS)


def test_routing_is_sticky_and_roughly_weighted():
    r = router(0.2)
    first = {k: r.route(k).variant for k in KEYS}
    assert all(r.route(k).variant == first[k] for k in KEYS[:200])
    assert all(router(0.2).route(k).variant == first[k] for k in KEYS[:200])
    share_b = sum(v == "B" for v in first.values()) / len(KEYS)
    assert 0.16 < share_b < 0.24


def test_raising_the_weight_only_moves_clients_from_a_to_b():
    r = router(0.2)
    before = {k: r.route(k).variant for k in KEYS}
    r.set_weight(0.5)
    after = {k: r.route(k).variant for k in KEYS}
    assert all(after[k] == "B" for k in KEYS if before[k] == "B")
    assert 0.45 < sum(v == "B" for v in after.values()) / len(KEYS) < 0.55
    r.set_weight(0)
    assert {r.route(k).variant for k in KEYS} == {"A"}
    r.set_weight(1)
    assert {r.route(k).variant for k in KEYS} == {"B"}


def test_pinned_versions_and_unknown_ones():
    v3 = LinearModel("v3")
    r = router(0.0, catalogue=[v3])
    assert r.route("k", "v2").variant == "B" and r.route("k", "v2").model.version == "v2"
    assert r.route("k", "direction-v1").variant == "A"
    assert r.route("k", "v3").variant == PINNED and r.route("k", "v3").model is v3
    with pytest.raises(UnknownModel, match="unknown model version 'v9'") as info:
        r.route("k", "v9")
    assert info.value.field == "model"
    assert [m.version for m in r.catalogue()] == ["v1", "v2", "v3"]


@pytest.mark.parametrize("bad", [-0.1, 1.5, True, "0.2", float("nan")])
def test_bad_weight(bad):
    with pytest.raises(UnknownModel, match="from 0 to 1") as info:
        router(bad)
    assert info.value.field == "weight_b"


def test_stats_count_requests_and_percentiles():
    r = router(0.5)
    for ms in range(1, 101):
        r.record("A", float(ms))
    r.record("B", 7.0)
    r.record("pinned", 1.0)
    stats = r.stats()
    assert stats["A"]["requests"] == 100 and stats["A"]["p50_ms"] == pytest.approx(50.5)
    assert stats["A"]["p99_ms"] == pytest.approx(99.01)
    assert stats["B"] | {} == {
        "model": "direction",
        "version": "v2",
        "weight": 0.5,
        "requests": 1,
        "p50_ms": 7.0,
        "p99_ms": 7.0,
    }


def test_latency_window_is_bounded():
    window = LatencyWindow(size=10)
    assert window.percentiles(50) == (None,)
    for ms in range(1000):
        window.add(float(ms))
    assert window.count == 1000 and window.percentiles(0, 100) == (990.0, 999.0)


def test_swap_under_threads_never_fails_nor_tears():
    r = router(0.5)
    models = [LinearModel(f"v{i}", weights=(float(i), 0.0, 0.0)) for i in range(1, 5)]
    errors: list[BaseException] = []
    done = threading.Event()
    served = [0]
    x = np.ones((1, 3), dtype=np.float32)
    known = [r.split.a, r.split.b, *models]

    def client(n: int) -> None:
        try:
            while not done.is_set():
                route = r.route(f"client-{n}")
                route.model.predict_checked(x)
                assert route.model in known
                served[0] += 1
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for i in range(200):
        r.swap("A" if i % 2 else "B", models[i % 4])
        r.configure(weight_b=(i % 10) / 10)
    done.set()
    for t in threads:
        t.join(timeout=10)
    assert not errors and served[0] > 0
    assert r.split.a is models[3] and r.split.b is models[2]
    assert r.route("client-1", "v4").model is models[3]


def test_swap_rejects_an_unknown_variant():
    with pytest.raises(UnknownModel, match="variant must be one of"):
        router().swap("C", LinearModel("v3"))
