"""Bad input and a hostile file system end the real console script with one line, never a
traceback: a read-only data dir under `mdc ingest`, config files that are not UTF-8, and config
mistakes `mdc run` refuses before it starts Ray (and so before it collects anything)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from chaos.faults.mounts import private_argv

MDC = str(Path(sys.executable).with_name("mdc"))
RECORDING = Path(__file__).parents[1] / "fixtures" / "binance" / "messages.jsonl"
RUN = ("run", "--no-api", "--no-grpc", "--duration", "1")


def _mdc(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([MDC, *argv], capture_output=True, text=True, timeout=60, check=False)


def assert_one_line_error(done: subprocess.CompletedProcess, command: str, needle: str) -> None:
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"mdc {command}: error: ") and done.stderr.count("\n") == 1
    assert needle in done.stderr and "Traceback" not in done.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="a read-only bind mount needs root")
def test_ingest_into_a_read_only_data_dir_is_one_line(tmp_path):
    """Root ignores permission bits, so the data dir is a read-only bind mount of itself, made
    in a private mount namespace that dies with the command."""
    data = tmp_path / "data"
    data.mkdir()
    script = 'd=$1; shift; mount --bind "$d" "$d" && mount -o remount,bind,ro "$d" && exec "$@"'
    argv = ["sh", "-c", script, "sh", str(data), MDC]
    argv += ["ingest", "--venue", "binance", "--data-dir", str(data), str(RECORDING)]
    done = subprocess.run(
        private_argv(argv), capture_output=True, text=True, timeout=60, check=False
    )
    assert_one_line_error(done, "ingest", "[Errno 30] Read-only file system")
    assert os.listdir(data) == []


def test_run_refuses_a_config_that_is_not_utf8(tmp_path):
    config = tmp_path / "mdc.toml"
    config.write_bytes(b'data_dir = "caf\xe9"\n')
    done = _mdc(*RUN, "--config", str(config))
    assert_one_line_error(done, "run", f"cannot read config file {config}: not UTF-8 text")


def test_features_refuses_a_config_that_is_not_utf8(tmp_path):
    config = tmp_path / "features.yaml"
    config.write_bytes(b"features:\n  - name: caf\xe9\n")
    argv = ["--data-dir", str(tmp_path), "--venue", "binance", "--symbol", "BTC-USDT", "--at", "1"]
    done = _mdc("features", *argv, "--config", str(config))
    assert_one_line_error(done, "features", f"cannot read feature config {config}: not UTF-8")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('[venues.binance]\nws_url = "not a url"\n', "venues.binance.ws_url must be a ws://"),
        ('[api]\nkey_hashes = ["s3cret"]\n', "api.key_hashes[0] is not a key digest"),
    ],
)
def test_run_refuses_config_mistakes_before_collecting(tmp_path, text, needle):
    config = tmp_path / "mdc.toml"
    config.write_text(text)
    done = _mdc(*RUN, "--config", str(config), "--data-dir", str(tmp_path / "data"))
    assert_one_line_error(done, "run", needle)
    assert "starting Ray" not in done.stderr and not (tmp_path / "data").exists()
