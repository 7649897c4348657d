"""`mdc chaos proxy` as a real process: help, config loading, Ctrl-C, clear errors."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys

import pytest
from toxiproxy import Toxiproxy

from tests.integration.pipes import drain, with_default_sigint
from tests.integration.toxiproxy_support import EchoServer, connect, recv_exactly

MDC = [sys.executable, "-m", "mdc.cli"]


def run_mdc(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*MDC, *args], capture_output=True, text=True, timeout=60, check=False)


def test_help_lists_every_option():
    result = run_mdc("chaos", "proxy", "--help")
    assert result.returncode == 0
    for flag in ("--host", "--port", "--config", "--seed"):
        assert flag in result.stdout
    assert "proxy" in run_mdc("chaos", "--help").stdout


def test_a_taken_port_is_a_clear_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_mdc("chaos", "proxy", "--port", str(port))
    assert result.returncode == 2
    assert f"127.0.0.1:{port}: address already in use" in result.stderr


@pytest.mark.parametrize(
    ("content", "reason"),
    [("{not json", "Expecting property name"), ('{"name": "x"}', "JSON array"), ("[{}]", "name")],
)
def test_a_bad_config_is_a_clear_error(tmp_path, content, reason):
    config = tmp_path / "proxies.json"
    config.write_text(content)
    result = run_mdc("chaos", "proxy", "--port", "0", "--config", str(config))
    assert result.returncode == 2
    assert "--config" in result.stderr and reason in result.stderr


def test_serves_the_config_until_ctrl_c(tmp_path):
    echo = EchoServer()
    config = tmp_path / "proxies.json"
    config.write_text(json.dumps([{"name": "echo", "upstream": echo.address}]))
    errors = tmp_path / "stderr.log"  # a file: output the test does not read never blocks it
    with open(errors, "w") as stderr:
        proc = subprocess.Popen(
            with_default_sigint(
                [*MDC, "chaos", "proxy", "--port", "0", "--seed", "3", "--config", str(config)]
            ),
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        banner = proc.stdout.readline()
        assert banner.startswith("toxiproxy API on http://127.0.0.1:"), errors.read_text()
        port = int(banner.rsplit(":", 1)[1])
        assert proc.stdout.readline().startswith("proxy echo: 127.0.0.1:")
        drain(proc.stdout)
        client = Toxiproxy()
        client.update_api_consumer("127.0.0.1", port)
        proxy = client.get_proxy("echo")
        with connect(proxy.listen) as sock:
            sock.sendall(b"cli")
            assert recv_exactly(sock, 3) == b"cli"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0, errors.read_text()[-3000:]
    finally:
        proc.kill()
        proc.wait()
        echo.stop()
