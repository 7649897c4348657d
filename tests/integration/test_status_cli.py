"""`mdc status` in a pipe, through the installed script: plain text, 80 columns, every actor by
its full name; and its --help says all of that."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from actors.panel import write_status

MDC = Path(sys.executable).parent / "mdc"
NO_WIDTH = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
VENUES = ("binance", "coinbase", "kraken", "alpaca")
ROWS = {
    "writer": {"state": "running", "restarts": 0, "unacked": 0, "events/s": "0"},
    **{
        f"provider:{v}": {"state": "running", "restarts": 1, "messages": 1_283_447,
                          "reconnects": 1, "lag ms": 12.4, "unacked": 3, "gaps": 2,
                          "events/s": "480"}
        for v in VENUES
    },
    **{f"books:{v}": {"state": "running", "restarts": 0, "unacked": 0, "gaps": 0,
                      "events/s": "0"} for v in VENUES},
}  # fmt: skip


def mdc(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(MDC), *argv], capture_output=True, text=True, env=NO_WIDTH, timeout=60, check=False
    )


def test_status_in_a_pipe_is_plain_text_at_80_columns_with_full_names(tmp_path):
    write_status(str(tmp_path), ROWS)
    done = mdc("status", "--data-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    assert "…" not in done.stdout and "\x1b" not in done.stdout
    assert not set(done.stdout) & set("│┃━─┏┡└")
    heads = {line.split()[0] for line in lines if line.strip()}
    assert set(ROWS) <= heads
    for header in ("actor", "state", "events/s", "messages", "lag ms", "restarts", "reconnects",
                   "unacked", "gaps"):  # fmt: skip
        assert header in done.stdout


def test_status_help_is_complete():
    done = mdc("status", "--help")
    assert done.returncode == 0
    words = " ".join(done.stdout.split())
    assert "usage: mdc status [-h] [--data-dir DIR]" in words
    for said in ("status.json", "one row per actor", "80 in a pipe", "full name", "Exits 1",
                 "--data-dir DIR event store directory"):  # fmt: skip
        assert said in words, said
