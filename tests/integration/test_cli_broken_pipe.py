"""`mdc ... | head`: a command whose reader goes away exits quietly (0 or 141), like any Unix
tool, instead of printing a BrokenPipeError traceback. Runs the installed `mdc` script."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from mdc.store import Store
from mdc.store.synth import trades

MDC = Path(sys.executable).parent / "mdc"
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "binance" / "messages.jsonl"
PIPE_BUFFER = 64 * 1024
# Buffered stdout, as users have it: the case where the exit-time flush can fail a second time.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("store"))
    with Store.open(path) as store:
        store.append(trades(random.Random(7), 5_000))
        store.refresh()
    return path


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("recording") / "binance.jsonl"
    path.write_bytes(FIXTURE.read_bytes() * 100)
    return path


def read_one_line_then_leave(argv: list[str], err: Path) -> tuple[int, bytes]:
    """Run `mdc argv` into a pipe, read one line and close the pipe, as `| head -1` does."""
    with err.open("wb") as stderr:
        proc = subprocess.Popen([str(MDC), *argv], stdout=subprocess.PIPE, stderr=stderr, env=ENV)
    try:
        first = proc.stdout.readline()
        proc.stdout.close()
        return proc.wait(timeout=120), first
    finally:
        proc.kill()


def command(name: str, data_dir: str, recording: Path) -> list[str]:
    return {
        "replay": ["replay", "--data-dir", data_dir, "--from", "0", "--to", "2100-01-01"],
        "query": ["query", "--data-dir", data_dir, "--format", "csv", "SELECT * FROM trades"],
        "normalize": ["normalize", "--venue", "binance", str(recording)],
    }[name]


@pytest.mark.parametrize("name", ["replay", "query", "normalize"])
def test_a_reader_that_leaves_early_ends_the_command_quietly(name, data_dir, recording, tmp_path):
    argv = command(name, data_dir, recording)
    full = subprocess.run([str(MDC), *argv], capture_output=True, env=ENV, timeout=120, check=False)
    assert full.returncode == 0 and len(full.stdout) > 8 * PIPE_BUFFER, full.stderr.decode()

    status, first = read_one_line_then_leave(argv, tmp_path / "stderr")

    err = (tmp_path / "stderr").read_text()
    assert first.endswith(b"\n") and first in full.stdout
    assert status in (0, 141), err
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
