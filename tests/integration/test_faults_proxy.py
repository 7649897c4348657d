"""Proxy faults through a Toxiproxy API (our server, chaos.toxiproxy, driven only through the
toxiproxy-python client as a real Toxiproxy would be) in front of a real TCP echo server: each
fault's effect is seen by a client going through the proxy, and is gone after heal."""

import random
import time

import pytest

from chaos.faults.base import FaultContext, FaultSetupError, FaultStateError, FaultTargetError
from chaos.faults.proxied import ToxiproxyAPI
from chaos.faults.proxy_bandwidth import ProxyBandwidth
from chaos.faults.proxy_down import ProxyDown
from chaos.faults.proxy_latency import ProxyLatency
from chaos.faults.proxy_reset import ProxyReset
from chaos.toxiproxy.server import start_in_thread
from tests.integration.test_faults_network import echo_once, echo_server, reachable_within


@pytest.fixture(scope="module")
def proxied():
    """(context, proxy host, proxy port): venue "echo" behind a proxy named "echo_proxy"."""
    with start_in_thread(seed=3) as server, echo_server("127.0.0.1") as port:
        listen = ToxiproxyAPI(server.url).replace_proxy("echo_proxy", f"127.0.0.1:{port}")
        host, _, listen_port = listen.rpartition(":")
        ctx = FaultContext(
            rng=random.Random(9), toxiproxy_url=server.url, proxies={"echo": "echo_proxy"}
        )
        yield ctx, host, int(listen_port)


def _round_trip_s(host: str, port: int, payload: bytes = b"ping") -> float:
    started = time.monotonic()
    assert echo_once(host, port, payload, timeout_s=10.0) == payload
    return time.monotonic() - started


def test_latency_delays_round_trips_until_healed(proxied):
    ctx, host, port = proxied
    fault = ProxyLatency(latency_ms=300)
    record = fault.inject(ctx)
    assert record.target == "echo"
    assert record.detail == {"proxy": "echo_proxy", "toxic": "chaos_proxy_latency_downstream",
                             "stream": "downstream", "latency": 300, "jitter": 0}  # fmt: skip
    assert _round_trip_s(host, port) >= 0.3
    fault.heal(ctx)
    fault.heal(ctx)
    assert _round_trip_s(host, port) < 0.2


def test_bandwidth_starves_the_stream_until_healed(proxied):
    ctx, host, port = proxied
    payload = bytes(range(256)) * 128  # 32 KiB
    fault = ProxyBandwidth(rate_kbps=32)
    fault.inject(ctx)
    assert _round_trip_s(host, port, payload) >= 0.7
    fault.heal(ctx)
    assert _round_trip_s(host, port, payload) < 0.5


def test_reset_breaks_connections_until_healed(proxied):
    ctx, host, port = proxied
    fault = ProxyReset(timeout_ms=0)
    fault.inject(ctx)
    with pytest.raises((OSError, AssertionError)):
        _round_trip_s(host, port)
    fault.heal(ctx)
    assert reachable_within(host, port, 5.0)


def test_proxy_down_refuses_connections_until_healed(proxied):
    ctx, host, port = proxied
    fault = ProxyDown(venue="ech*")
    record = fault.inject(ctx)
    assert (record.target, record.detail) == ("echo", {"proxy": "echo_proxy"})
    with pytest.raises(ConnectionRefusedError):
        echo_once(host, port)
    fault.heal(ctx)
    assert reachable_within(host, port, 5.0)


def test_misuse_and_missing_targets_are_typed_errors(proxied):
    ctx, _, _ = proxied
    first = ProxyLatency(latency_ms=10)
    first.inject(ctx)
    try:
        with pytest.raises(FaultStateError, match="already has a toxic"):
            ProxyLatency(latency_ms=20).inject(ctx)
    finally:
        first.heal(ctx)
    with pytest.raises(FaultTargetError, match="no proxied venue"):
        ProxyDown(venue="binance").inject(ctx)
    ctx_gone = FaultContext(rng=random.Random(1), toxiproxy_url=ctx.toxiproxy_url,
                            proxies={"echo": "deleted_proxy"})  # fmt: skip
    with pytest.raises(FaultTargetError, match="no proxy 'deleted_proxy'"):
        ProxyDown().inject(ctx_gone)
    ctx_nobody = FaultContext(rng=random.Random(1), toxiproxy_url="http://127.0.0.1:9",
                              proxies={"echo": "echo_proxy"})  # fmt: skip
    with pytest.raises(FaultSetupError, match="no Toxiproxy API answers"):
        ProxyDown().inject(ctx_nobody)
