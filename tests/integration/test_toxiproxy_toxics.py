"""Each toxic's effect on real TCP through the proxy to an echo server on 127.0.0.1.

Timing checks are lower bounds only ("at least the configured delay"); waits are socket
timeouts, never sleeps.
"""

from __future__ import annotations

import socket
import time

import pytest
import requests
from toxiproxy import Toxiproxy

from tests.integration.toxiproxy_support import (
    EchoServer,
    connect,
    recv_exactly,
    recv_until_eof,
    running_server,
)


@pytest.fixture(scope="module")
def server():
    with running_server(seed=5) as srv:
        yield srv


@pytest.fixture(scope="module")
def echo():
    srv = EchoServer()
    yield srv
    srv.stop()


@pytest.fixture
def proxy(server, echo):
    client = Toxiproxy()
    client.update_api_consumer(server.host, server.port)
    client.destroy_all()
    yield client.create(upstream=echo.address, name="echo")
    client.destroy_all()


def timed_round_trip(listen: str, data: bytes) -> float:
    with connect(listen) as sock:
        start = time.monotonic()
        sock.sendall(data)
        assert recv_exactly(sock, len(data)) == data
        return time.monotonic() - start


def test_latency_adds_at_least_the_delay(proxy):
    proxy.add_toxic(type="latency", attributes={"latency": 200})
    assert timed_round_trip(proxy.listen, b"hello") >= 0.2


def test_latency_upstream_and_downstream_add_up(proxy):
    proxy.add_toxic(type="latency", stream="upstream", attributes={"latency": 100})
    proxy.add_toxic(type="latency", stream="downstream", attributes={"latency": 100})
    assert timed_round_trip(proxy.listen, b"hello") >= 0.2


def test_bandwidth_limits_throughput(proxy):
    proxy.add_toxic(type="bandwidth", attributes={"rate": 50})
    assert timed_round_trip(proxy.listen, b"b" * 20_000) >= 0.4


def test_limit_data_closes_after_exactly_n_bytes(proxy):
    proxy.add_toxic(type="limit_data", attributes={"bytes": 10})
    with connect(proxy.listen) as sock:
        sock.sendall(b"x" * 100)
        assert recv_until_eof(sock) == b"x" * 10


def test_reset_peer_resets_the_connection(proxy):
    proxy.add_toxic(type="reset_peer", stream="upstream", attributes={"timeout": 0})
    with connect(proxy.listen) as sock:
        sock.sendall(b"boom")
        with pytest.raises(ConnectionResetError):
            recv_until_eof(sock)


def test_reset_peer_waits_its_timeout(proxy):
    proxy.add_toxic(type="reset_peer", stream="downstream", attributes={"timeout": 200})
    with connect(proxy.listen) as sock:
        start = time.monotonic()
        sock.sendall(b"boom")
        with pytest.raises(ConnectionResetError):
            recv_until_eof(sock)
        assert time.monotonic() - start >= 0.2


def test_timeout_stops_data_then_closes(proxy):
    proxy.add_toxic(type="timeout", stream="upstream", attributes={"timeout": 300})
    with connect(proxy.listen) as sock:
        start = time.monotonic()
        sock.sendall(b"never answered")
        assert recv_until_eof(sock) == b""
        assert time.monotonic() - start >= 0.3


def test_timeout_zero_holds_until_the_toxic_is_removed(proxy):
    proxy.add_toxic(type="timeout", stream="upstream", attributes={"timeout": 0})
    with connect(proxy.listen) as sock:
        sock.sendall(b"held")
        sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            sock.recv(100)
        sock.settimeout(5)
        proxy.destroy_toxic("timeout_upstream")
        assert recv_until_eof(sock) == b""


def test_slicer_splits_into_several_reads(proxy):
    proxy.add_toxic(type="slicer", attributes={"average_size": 10, "delay": 20_000})
    with connect(proxy.listen) as sock:
        sock.sendall(b"s" * 100)
        reads = []
        while sum(reads) < 100:
            reads.append(len(sock.recv(100)))
        assert len(reads) >= 2 and sum(reads) == 100


def test_slow_close_delays_the_close(proxy):
    proxy.add_toxic(type="slow_close", stream="upstream", attributes={"delay": 300})
    with connect(proxy.listen) as sock:
        sock.sendall(b"bye")
        assert recv_exactly(sock, 3) == b"bye"
        start = time.monotonic()
        sock.shutdown(socket.SHUT_WR)
        assert recv_until_eof(sock) == b""
        assert time.monotonic() - start >= 0.3


def test_toxicity_zero_never_applies_and_one_always_does(proxy):
    proxy.add_toxic(type="limit_data", name="never", toxicity=0.0, attributes={"bytes": 0})
    for _ in range(5):
        with connect(proxy.listen) as sock:
            sock.sendall(b"fine")
            assert recv_exactly(sock, 4) == b"fine"
    proxy.destroy_toxic("never")
    proxy.add_toxic(type="limit_data", name="always", toxicity=1.0, attributes={"bytes": 0})
    for _ in range(5):
        with connect(proxy.listen) as sock:
            sock.sendall(b"cut")
            assert recv_until_eof(sock) == b""


def test_a_toxic_added_to_a_live_connection_applies_to_it(proxy):
    with connect(proxy.listen) as sock:
        sock.sendall(b"1")
        assert recv_exactly(sock, 1) == b"1"
        proxy.add_toxic(type="latency", attributes={"latency": 200})
        start = time.monotonic()
        sock.sendall(b"2")
        assert recv_exactly(sock, 1) == b"2"
        assert time.monotonic() - start >= 0.2


def test_removing_a_toxic_releases_held_data(proxy):
    proxy.add_toxic(type="latency", attributes={"latency": 60_000})
    with connect(proxy.listen) as sock:
        sock.sendall(b"held")
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(10)
        sock.settimeout(5)
        proxy.destroy_toxic("latency_downstream")
        assert recv_exactly(sock, 4) == b"held"


def test_disable_closes_connections_and_enable_relistens(proxy):
    with connect(proxy.listen) as sock:
        sock.sendall(b"a")
        assert recv_exactly(sock, 1) == b"a"
        proxy.disable()
        assert recv_until_eof(sock) == b""
    with pytest.raises(ConnectionRefusedError):
        connect(proxy.listen)
    proxy.enable()
    with connect(proxy.listen) as sock:
        sock.sendall(b"back")
        assert recv_exactly(sock, 4) == b"back"


def test_unreachable_upstream_closes_the_client(server):
    client = Toxiproxy()
    client.update_api_consumer(server.host, server.port)
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{spare.getsockname()[1]}"
    proxy = client.create(upstream=dead, name="dead")
    try:
        with connect(proxy.listen) as sock:
            try:
                outcome = recv_until_eof(sock)
            except ConnectionResetError:
                outcome = b"reset"
        assert outcome in {b"", b"reset"}
    finally:
        proxy.destroy()


def test_updating_a_toxic_applies_to_a_live_connection_and_releases_held_data(server, proxy):
    proxy.add_toxic(type="latency", attributes={"latency": 60_000})
    with connect(proxy.listen) as sock:
        sock.sendall(b"held")
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(10)
        sock.settimeout(5)
        url = f"{server.url}/proxies/echo/toxics/latency_downstream"
        response = requests.patch(url, json={"attributes": {"latency": 0}}, timeout=10)
        assert response.status_code == 200
        assert recv_exactly(sock, 4) == b"held"


def cut_pattern(seed: int, echo: EchoServer) -> list[bool]:
    """Which of 12 sequential connections a toxicity-0.5 limit_data cut, on a fresh server."""
    with running_server(seed=seed) as srv:
        client = Toxiproxy()
        client.update_api_consumer(srv.host, srv.port)
        proxy = client.create(upstream=echo.address, name="coin")
        proxy.add_toxic(type="limit_data", toxicity=0.5, attributes={"bytes": 0})
        pattern = []
        for _ in range(12):
            with connect(proxy.listen) as sock:
                sock.sendall(b"ab")
                pattern.append(recv_exactly(sock, 2) == b"")
        return pattern


def test_toxicity_rolls_are_per_connection_and_reproducible_with_a_seed(echo):
    first = cut_pattern(42, echo)
    assert first == cut_pattern(42, echo)
    assert any(first) and not all(first)


def test_reset_peer_added_to_a_live_connection_closes_with_a_fin(proxy):
    with connect(proxy.listen) as sock:
        sock.sendall(b"1")
        assert recv_exactly(sock, 1) == b"1"
        proxy.add_toxic(type="reset_peer", stream="upstream", attributes={"timeout": 0})
        sock.sendall(b"2")
        assert recv_until_eof(sock) == b""
