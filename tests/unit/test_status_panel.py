"""The status panel of `mdc run` / `mdc status` at 60, 80 and 120 columns: every actor name and
every header in full (cut to "prov…", the four providers look alike), no line wider than the
screen, no table drawing off a terminal."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from actors.panel import COLUMNS, REFUSING, STATUS_FILE, USAGE, StatusPanel, footer, line, text

VENUES = ("binance", "coinbase", "kraken", "alpaca")


def provider(venue: str, n: int) -> dict:
    """A provider's row as the supervisor reports it: its state plus its ping."""
    return {
        "state": "running", "restarts": n % 2, "error": None, "venue": venue, "pid": 4100 + n,
        "node": "f3a9c2", "phase": "live", "messages": 1_283_447 + n, "connects": 2,
        "reconnects": 1, "malformed": 0, "gaps": n, "book overflows": 0, "backfilled": 12,
        "events by type": {"trade": 8123, "book_delta": 1_275_324}, "lag histogram": {"p99": 41},
        "lag ms": 12.4 + n, "unacked": 3, "sent": 1022, "acked": 1019, "resent": 0,
        "failure": "", "events/s": str(480 + n), "started_ns": 7 + n,
        USAGE: usage(n),
    }  # fmt: skip


def usage(n: int, scale: int = 1) -> dict:
    """A provider ping's usage totals (actors/connection.py `ConnectionStats.usage`)."""
    return {
        "messages": 1000 * scale, "ws_bytes_in": 90_000 * scale + n, "ws_bytes_out": 120,
        "rest_bytes_in": 4_000 * scale, "api_calls": {"connect": 1, "snapshot": 2 * scale},
    }  # fmt: skip


def books(n: int) -> dict:
    return {
        "state": "restarting" if n == 2 else "running", "restarts": n, "error": None,
        "pid": 4200 + n, "applied": 1_275_000 + n, "gaps": 0, "in_sync": 2, "symbols": 2,
        "unacked": 0, "events/s": "0",
    }  # fmt: skip


WRITER = {
    "state": "running", "restarts": 0, "error": None, "batches": 4077, "events": 5_133_000,
    "stored": 5_132_990, "duplicates": 10, "commits": 812, "dead_lettered": 0, "pid": 4000,
    "failures": {}, "failures by cause": {}, "events/s": "0",
}  # fmt: skip
RAY_ROWS = {
    "writer": WRITER,
    **{f"provider:{v}": provider(v, n) for n, v in enumerate(VENUES)},
    **{f"books:{v}": books(n) for n, v in enumerate(VENUES)},
}
LOCAL_ROWS = {
    **{
        v: {"state": "live", "messages": 90_210, "reconnects": 0, "gaps": 1, "in sync": "2/2",
            "events/s": "512"}
        for v in VENUES
    },
    "store": {"state": "ok", "messages": 360_840, "unacked": 7, "events/s": "2049"},
}  # fmt: skip
TITLE = "mdc status (0.4s ago)"
CAPTION = "data dir ./data: 1843.2 MB"


def shown_headers(rows: dict[str, dict]) -> list[str]:
    return [c for c in COLUMNS if c == "actor" or any(c in row for row in rows.values())]


def assert_readable(out: str, rows: dict[str, dict], width: int) -> None:
    lines = out.splitlines()
    assert all(len(line) <= width for line in lines), max(lines, key=len)
    assert "…" not in out and not set(out) & set("│┃━─┏┡└")
    tables = sum(line.split()[:1] == ["actor"] for line in lines)
    for name, row in rows.items():
        mine = [line.split() for line in lines if line.split()[:1] == [name]]
        assert len(mine) == tables, name  # the full name heads its line in every table
        cells = " ".join(" ".join(words[1:]) for words in mine)
        for column in shown_headers(rows)[1:]:
            if column in row:
                assert str(row[column]) in cells, (name, column)
    header = " ".join(line for line in lines if line.startswith("actor "))
    for column in shown_headers(rows):
        assert column in header


@pytest.mark.parametrize("rows", [RAY_ROWS, LOCAL_ROWS], ids=["ray", "local"])
@pytest.mark.parametrize("width", [60, 80, 120])
def test_every_name_and_header_in_full_within_the_width(rows, width):
    out = text(rows, width, TITLE, CAPTION)
    assert_readable(out, rows, width)
    assert TITLE in out and CAPTION in out


def test_a_wide_screen_gets_one_table_and_a_narrow_one_several():
    assert text(RAY_ROWS, 120, TITLE).count("\nactor ") == 1
    assert text(RAY_ROWS, 80, TITLE).count("\nactor ") == 2


def test_long_title_and_caption_wrap_at_spaces_without_being_cut():
    caption = "data dir /var/lib/mdc/collectors/eu-west-1/primary/store: 1843.2 MB"
    out = text(RAY_ROWS, 60, "mdc run — Ctrl-C stops it (drains and fsyncs first)", caption)
    assert_readable(out, RAY_ROWS, 60)
    assert " ".join(out.split()).endswith(caption)


@pytest.mark.parametrize("width", [80, 120])
def test_the_live_panel_of_mdc_run_follows_the_terminal_width(width, tmp_path):
    screen = io.StringIO()
    console = Console(file=screen, width=width, force_terminal=True, color_system=None)
    panel = StatusPanel(lambda: RAY_ROWS, str(tmp_path), console)
    console.print(panel.view(RAY_ROWS))
    assert_readable(screen.getvalue(), RAY_ROWS, width)


def test_a_store_refusing_writes_is_said_below_the_table_and_in_the_plain_line(tmp_path):
    refusing = {**RAY_ROWS, "writer": {**WRITER, REFUSING: "[Errno 28] No space left on device"}}
    note = "store refusing writes: [Errno 28] No space left on device"
    out = text(refusing, 80, TITLE, footer(refusing, str(tmp_path)))
    assert out.splitlines()[-1] == note
    assert_readable(out, refusing, 80)
    assert line(refusing, str(tmp_path)).endswith(f"disk 0.0 MB  {note}")
    for taking in (RAY_ROWS, {**RAY_ROWS, "writer": {**WRITER, REFUSING: ""}}):
        assert "store refusing" not in text(taking, 80, TITLE, footer(taking, str(tmp_path)))
        assert "store refusing" not in line(taking, str(tmp_path))


def test_status_json_carries_the_providers_usage_summed_over_restarts(tmp_path):
    """The table leaves usage out; status.json sums it per venue, a restarted provider's
    counts (from zero again) adding to its predecessor's."""
    rows = {name: dict(row) for name, row in RAY_ROWS.items()}
    panel = StatusPanel(lambda: rows, str(tmp_path), _plain())
    panel.write_once()
    rows["provider:kraken"] = {**rows["provider:kraken"], "pid": 9999, USAGE: usage(2, scale=3)}
    panel.write_once()
    status = json.loads((tmp_path / STATUS_FILE).read_text())
    assert "usage" not in text(status["rows"], 200)
    totals = status[USAGE]["providers"]
    assert sorted(totals) == sorted(VENUES)
    assert totals["binance"] == {**usage(0), "messages": 1000}
    kraken = totals["kraken"]
    assert kraken["ws_bytes_in"] == (90_000 + 2) + (270_000 + 2)
    assert kraken["api_calls"] == {"connect": 2, "snapshot": 2 + 6}
    assert status[USAGE]["since_ns"] <= status["written_ns"]


def _plain() -> Console:
    return Console(file=io.StringIO(), width=80, force_terminal=False, color_system=None)
