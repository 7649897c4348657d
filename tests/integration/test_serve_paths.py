"""The ways into the prediction API on a real Ray Serve: the replica answers on the user's port
by default (direct ingress), a killed replica's replacement takes that port back, Serve's proxy
serves the same app on its own port, and when direct ingress cannot start the API falls back to
the proxy on the user's port and says why."""

from __future__ import annotations

import httpx
import pytest
import ray

from actors.waiting import wait_until_sync
from chaos.faults.kill_serve_replica import serve_replicas
from models.runtime import SHIPPED, discover_models
from serve.auth import KeyRing
from serve.deployment import (
    DIRECT_INGRESS_ENV,
    Scaling,
    ServeOptions,
    ServePath,
    ServeSpec,
    describe,
    free_port,
    start_serve,
    stop_serve,
)

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("ray_runtime")]
KEY = {"X-API-Key": "paths-key"}
SPEC = ServeSpec(keys=KeyRing(["paths-key"]))
BODY = {"features": [0.1] * len(discover_models(SHIPPED)[0].features)}


def predict(url: str) -> httpx.Response:
    return httpx.post(url + "/v1/predict", json=BODY, headers=KEY, timeout=10)


def test_the_replica_answers_on_the_users_port_and_a_replacement_takes_it_back():
    port = free_port()
    served = start_serve(SPEC, "127.0.0.1", port)
    try:
        assert served.path is ServePath.DIRECT and served.fallback_reason is None
        assert served.url == f"http://127.0.0.1:{port}" and served.proxy_url != served.url
        assert describe(served) == [
            f"the replica answers on {served.url} (Serve's proxy: {served.proxy_url})"
        ]
        direct, proxied = predict(served.url), predict(served.proxy_url)
        assert direct.status_code == proxied.status_code == 200
        assert direct.json() == proxied.json()

        (replica,) = [r for r in serve_replicas() if "#PredictionIngress#" in r]
        ray.kill(ray.get_actor(replica, namespace="serve"), no_restart=True)
        wait_until_sync(lambda: replica not in serve_replicas(), 30, "the replica to die")

        def answers_again() -> bool:
            try:
                return predict(served.url).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until_sync(answers_again, 60, f"a new replica on port {port}", every_s=0.2)
        assert [r for r in serve_replicas() if "#PredictionIngress#" in r] != [replica]
    finally:
        stop_serve()


def test_when_direct_ingress_cannot_start_the_proxy_serves_the_port_and_says_why():
    port = free_port()
    # What a Ray that ignores the experimental switch looks like: the replica never binds.
    broken = ServeOptions(controller_env={DIRECT_INGRESS_ENV: "0"}, direct_timeout_s=3)
    served = start_serve(SPEC, "127.0.0.1", port, broken)
    try:
        assert served.path is ServePath.PROXY and served.proxy_url == served.url
        assert f"did not answer on {served.url} within 3 s" in served.fallback_reason
        (line,) = describe(served)
        assert line.startswith("direct ingress unavailable (") and line.endswith(
            f"serving through Serve's HTTP proxy on {served.url}"
        )
        assert predict(served.url).status_code == 200
    finally:
        stop_serve()


def test_several_replicas_go_through_the_proxy():
    port = free_port()
    options = ServeOptions(scaling=Scaling(min_replicas=1, max_replicas=2, replica_cpus=0.1))
    served = start_serve(SPEC, "127.0.0.1", port, options)
    try:
        assert served.path is ServePath.PROXY and served.url == served.proxy_url
        assert "several replicas" in served.fallback_reason
        assert predict(served.url).status_code == 200
    finally:
        stop_serve()
