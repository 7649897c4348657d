"""Files `mdc run` keeps beside the store (status, ground truth, API key, traces) on a disk that
refuses them: writes fail for real (ENOSPC from a link to /dev/full, or a path through a regular
file), and each file costs only itself: one warning, no exception, nothing half-written left."""

from __future__ import annotations

import asyncio
import errno
import io
import json
import os

import pytest
from rich.console import Console

from actors import telemetry
from actors.api import KEY_FILE, key_ring
from actors.commands import write_truth
from actors.panel import STATUS_FILE, StatusPanel
from actors.sidefiles import SideFile
from serve.auth import AuthResult

pytestmark = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
ENOSPC = "[Errno 28] No space left on device"


def full(path) -> None:
    """Writes to `path` now fail with ENOSPC, as on a full disk; removing it frees the space."""
    os.symlink("/dev/full", path)


def warnings(captured: str) -> list[str]:
    return [line for line in captured.splitlines() if line.startswith("mdc run: warning:")]


def test_one_warning_per_streak_of_failures():
    said: list[str] = []
    side = SideFile("status file", "/d/status.json", "it is stale", said.append)

    def refuse() -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/d/status.json.tmp")

    assert [side.write(refuse), side.write(refuse)] == [False, False]
    assert said == [
        f"mdc run: warning: cannot write the status file /d/status.json ({ENOSPC}); it is stale"
    ]
    assert side.write(lambda: None) and not side.failing
    side.write(refuse)
    assert len(said) == 2


def test_the_panel_goes_on_when_the_status_file_cannot_be_written(tmp_path, capsys):
    full(tmp_path / f"{STATUS_FILE}.tmp")
    panel = StatusPanel(lambda: {"writer": {"state": "running"}}, str(tmp_path), _plain())
    asyncio.run(_refresh(panel, seconds=1.1))  # two writes: refused, then (space freed) taken
    assert len(warnings(capsys.readouterr().err)) == 1
    assert os.listdir(tmp_path) == [STATUS_FILE]  # no temporary file left taking space
    assert json.loads((tmp_path / STATUS_FILE).read_text())["rows"]["writer"]["state"] == "running"


def test_ground_truth_that_does_not_fit_leaves_none_behind(tmp_path, capsys):
    truth = tmp_path / "truth"
    truth.mkdir()
    (truth / "run.json").write_text('{"stopped_ns": 1, "venues": ["binance"]}')  # older run's
    write_truth(_SimOnFullDisk(), ["binance", "kraken"], str(truth), 2)
    (warning,) = warnings(capsys.readouterr().err)
    assert f"ground truth {truth} ({ENOSPC}); `mdc verify` cannot check this run" in warning
    assert os.listdir(truth) == []


def test_an_api_key_that_cannot_be_kept_is_only_printed(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MDC_API_KEYS", raising=False)
    monkeypatch.delenv("MDC_API_KEY_HASHES", raising=False)
    full(tmp_path / KEY_FILE)
    keys = key_ring(str(tmp_path))
    err = capsys.readouterr().err
    assert len(warnings(err)) == 1 and os.listdir(tmp_path) == []
    key = err.split("this run's API key is only in this line (send it as X-API-Key): ")[1]
    assert keys.check(key.strip()) is AuthResult.OK


def test_spans_that_cannot_be_written_cost_one_warning_not_the_actor(tmp_path, capsys):
    (tmp_path / "not-a-dir").write_text("")
    path = tmp_path / "not-a-dir" / "traces.jsonl"  # neither its directory nor it can be made
    env = {"OTEL_TRACES_EXPORTER": "console", telemetry.TRACES_FILE_ENV: str(path)}
    tracer = telemetry.setup_tracing("writer", sample_ratio=1.0, environ=env)
    for _ in range(3):
        with telemetry.span(tracer, telemetry.WAL_APPEND):
            pass
    (warning,) = warnings(capsys.readouterr().err)
    assert f"cannot write the traces file {path} ([Errno 17] File exists)" in warning


def _plain() -> Console:
    return Console(file=io.StringIO(), force_terminal=False)


async def _refresh(panel: StatusPanel, seconds: float) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(seconds, stop.set)
    await panel.refresh_until(stop)


class _SimOnFullDisk:
    """The simulator's truth() as `write_truth` uses it, writing onto a full disk."""

    def truth(self, venue: str) -> _SimOnFullDisk:
        return self

    def dump(self, path: str) -> None:
        with open(path, "wb") as out, open("/dev/full", "wb") as disk:
            out.write(b"{}\n")  # the first venue's file exists, half written
            disk.write(b"x" * 8192)
