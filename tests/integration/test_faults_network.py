"""Network faults for real: a TCP echo server in a network namespace the test creates is
reachable, then not (within 1-2 s), then again after heal; the namespace is deleted at the end."""

import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from chaos.faults.base import FaultContext, FaultSetupError
from chaos.faults.netns import Netns, ip
from chaos.faults.netns_partition import NetnsPartition

ECHO_SERVER = """
import socket, sys, threading
server = socket.create_server((sys.argv[1], 0))
print(server.getsockname()[1], flush=True)
def echo(conn):
    with conn:
        while data := conn.recv(65536):
            conn.sendall(data)
while True:
    conn, _ = server.accept()
    threading.Thread(target=echo, args=(conn,), daemon=True).start()
"""


@contextmanager
def echo_server(host: str, wrap=lambda argv: argv) -> Iterator[int]:
    """A real echo server process bound to `host`; yields its port, killed by pid at the end."""
    proc = subprocess.Popen(
        wrap([sys.executable, "-c", ECHO_SERVER, host]), stdout=subprocess.PIPE, text=True
    )
    try:
        yield int(proc.stdout.readline())
    finally:
        proc.kill()
        proc.wait(timeout=10)


def echo_once(host: str, port: int, payload: bytes = b"ping", timeout_s: float = 1.0) -> bytes:
    with socket.create_connection((host, port), timeout=timeout_s) as conn:
        conn.sendall(payload)
        received = b""
        while len(received) < len(payload):
            chunk = conn.recv(65536)
            if not chunk:
                break
            received += chunk
        return received


def reachable_within(host: str, port: int, timeout_s: float) -> bool:
    """Wait on the condition "an echo round trip works", up to `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            return echo_once(host, port) == b"ping"
        except OSError:
            continue
    return False


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")


@pytest.fixture
def netns():
    with Netns.create() as created:
        yield created
    assert not created.exists(), "the namespace must be gone after the test"
    assert ip("link", "show", created.host_if, check=False).returncode != 0


@needs_root
@pytest.mark.parametrize("method", ["link_down", "blackhole", "drop"])
def test_partition_cuts_the_namespace_off_and_heal_restores_it(netns, method):
    ctx = FaultContext(rng=random.Random(5), netns=netns)
    fault = NetnsPartition(method=method)
    with echo_server(netns.ns_ip, netns.exec_argv) as port:
        assert reachable_within(netns.ns_ip, port, 5.0)
        established = socket.create_connection((netns.ns_ip, port), timeout=1.0)

        record = fault.inject(ctx)
        assert record.target == netns.name
        assert record.detail["method"] in (method, "blackhole", "nft", "iptables")
        started = time.monotonic()
        with pytest.raises(OSError):  # TimeoutError is an OSError; errno is None for it
            echo_once(netns.ns_ip, port, timeout_s=1.0)
        assert time.monotonic() - started < 2.0
        established.sendall(b"lost?")
        with pytest.raises(TimeoutError):
            established.recv(16)
        established.close()

        fault.heal(ctx)
        fault.heal(ctx)
        assert record.healed_at_ns is not None
        assert reachable_within(netns.ns_ip, port, 5.0)


def test_partition_without_a_namespace_is_a_setup_error():
    with pytest.raises(FaultSetupError, match="netns"):
        NetnsPartition().inject(FaultContext(rng=random.Random(1)))
