"""The prediction API under load, on a real uvicorn (serve.http_limits) on 127.0.0.1: health answers
within 1 s while 200 connections wait on a stalled model, requests over the in-flight limit are
refused at once, and a client sending its headers a byte at a time is cut off within the bound."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from urllib.parse import urlsplit

import httpx
import pytest

from serve.ab import ABRouter
from serve.app import MAX_INFLIGHT, build_app
from serve.auth import KeyRing
from serve.http_limits import HttpLimits, serving, uvicorn_config
from tests.unit.test_serve_doubles import DictFeatureSource, LinearModel

KEY = "limits-key"
CONNECTIONS = 200
BODY = b'{"features": [1, 2, 3]}'
PREDICT = (
    b"POST /v1/predict HTTP/1.1\r\nHost: t\r\nX-API-Key: "
    + KEY.encode()
    + b"\r\nContent-Type: application/json\r\nContent-Length: "
    + str(len(BODY)).encode()
    + b"\r\n\r\n"
    + BODY
)
READ_BOUND_S = 0.5


class StalledModel(LinearModel):
    """Inference that holds until the test releases it (20 s at most)."""

    def __init__(self) -> None:
        super().__init__("v1")
        self.entered, self.release = threading.Event(), threading.Event()
        self.inference_s = 20.0  # slow: the API runs it on worker threads

    def predict_checked(self, x):
        self.entered.set()
        self.release.wait(20)
        return super().predict_checked(x)


def app_over(model: LinearModel):
    router = ABRouter(model, LinearModel("v2"), 0.0)
    return build_app(router, DictFeatureSource({}), KeyRing([KEY]))


def address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or 0


async def health_latencies(url: str, probes: int) -> list[float]:
    latencies = []
    async with httpx.AsyncClient(base_url=url, timeout=1.0) as client:
        for _ in range(probes):
            started = time.monotonic()
            response = await client.get("/healthz")
            assert response.json() == {"status": "ok"}
            latencies.append(time.monotonic() - started)
    return latencies


async def saturate(url: str, model: StalledModel) -> None:
    host, port = address(url)
    answered: list[tuple[int, float]] = []
    refusals_in = asyncio.Event()
    writers: list[asyncio.StreamWriter] = []

    async def hold() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        writers.append(writer)  # the connection stays open until the end of the test
        writer.write(PREDICT)
        status = int((await reader.readline()).split()[1])
        answered.append((status, time.monotonic()))
        if len(answered) == CONNECTIONS - MAX_INFLIGHT:
            refusals_in.set()

    clients = [asyncio.create_task(hold()) for _ in range(CONNECTIONS)]
    try:
        assert await asyncio.to_thread(model.entered.wait, 10)
        assert max(await health_latencies(url, 4)) < 1.0
        await asyncio.wait_for(refusals_in.wait(), 10)
        assert {status for status, _ in answered} == {503}
        released = time.monotonic()
        model.release.set()
        await asyncio.wait_for(asyncio.gather(*clients), 20)
        assert sorted(status for status, _ in answered) == [200] * MAX_INFLIGHT + [503] * (
            CONNECTIONS - MAX_INFLIGHT
        )
        assert all(at >= released for status, at in answered if status == 200)
    finally:
        model.release.set()
        for writer in writers:
            writer.close()


def test_health_answers_within_a_second_while_200_connections_wait_on_inference():
    model = StalledModel()
    with serving(uvicorn_config(app_over(model), log_level="warning", lifespan="off")) as url:
        asyncio.run(saturate(url, model))
        assert httpx.get(url + "/healthz", timeout=1.0).status_code == 200


def seconds_until_closed(sock: socket.socket, dribble: bytes, bound_s: float) -> float:
    """Send `dribble` a byte every 0.1 s until the server closes; seconds until it did."""
    started = time.monotonic()
    sock.settimeout(0.1)
    for byte in dribble:
        try:
            sock.send(bytes([byte]))
            if sock.recv(4096) == b"":
                break
        except TimeoutError:
            continue
        except ConnectionError:
            break
    else:
        pytest.fail(f"connection still open after {time.monotonic() - started:.1f} s")
    elapsed = time.monotonic() - started
    assert elapsed < bound_s + 1.0
    return elapsed


@pytest.fixture(scope="module")
def bounded_url():
    limits = HttpLimits(request_read_s=READ_BOUND_S)
    config = uvicorn_config(app_over(LinearModel("v1")), limits, log_level="warning")
    with serving(config) as url:
        yield url


def test_a_client_sending_headers_a_byte_at_a_time_is_cut_off(bounded_url):
    slow = b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"a" * 60
    with socket.create_connection(address(bounded_url), timeout=5) as sock:
        assert seconds_until_closed(sock, slow, READ_BOUND_S) >= READ_BOUND_S - 0.05
    assert httpx.get(bounded_url + "/healthz", timeout=1.0).status_code == 200


def test_the_bound_restarts_after_each_response(bounded_url):
    with socket.create_connection(address(bounded_url), timeout=5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        # idle, then a byte at a time: cut READ_BOUND_S after the response, not keep-alive's 5 s
        seconds_until_closed(sock, b"GET /healthz HTTP/1.1\r\n" + b"a" * 60, READ_BOUND_S)
