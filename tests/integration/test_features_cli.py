"""`mdc features` end to end: the real console script on a real store."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from mdc.store import Store
from tests.unit.test_features_reference import REFERENCE, assert_matches, reference_events

MDC = str(Path(sys.executable).with_name("mdc"))
VENUE, SYMBOL = "binance", "TST-USD"


def _mdc(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([MDC, *argv], capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """The reference trades and snapshots, received the instant they happened."""
    path = tmp_path_factory.mktemp("store")
    events = [msgspec.structs.replace(e, ts_recv=e.ts_event) for e in reference_events(VENUE)]
    with Store.open(str(path)) as store:
        store.append(events)
        store.refresh(jsonl=False)
    return str(path)


@pytest.mark.parametrize("query", REFERENCE["queries"], ids=lambda q: f"{q['t_offset_min']}m")
def test_features_at_an_instant_match_the_reference(data_dir, query):
    result = _mdc(
        "features", "--data-dir", data_dir, "--venue", VENUE, "--symbol", SYMBOL,
        "--at", str(query["t_ns"]),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    record = json.loads(line)
    assert record["t_ns"] == query["t_ns"] and record["venue"] == VENUE
    assert_matches(record["features"], query["expected"], f"cli {query['t_offset_min']}m")


def test_range_with_a_config_file_and_table_output(data_dir, tmp_path):
    config = tmp_path / "features.yaml"
    config.write_text(
        "features:\n"
        "  - name: rolling_vwap\n    type: VWAP\n    windows: [5m, 30m]\n"
        "  - name: spread_stats\n    type: SpreadStatistics\n    percentiles: [75]\n"
        "    windows: [15m]\n"
    )
    first, last = REFERENCE["queries"][0]["t_ns"], REFERENCE["queries"][1]["t_ns"]
    argv = ["features", "--data-dir", data_dir, "--venue", VENUE, "--symbol", SYMBOL,
            "--from", str(first), "--to", str(last), "--every", "15m",
            "--config", str(config)]  # fmt: skip
    result = _mdc(*argv)
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 0, result.stderr
    assert [r["t_ns"] for r in records] == list(range(first, last + 1, 900 * 10**9))
    assert list(records[0]["features"]) == [
        "vwap_5m", "spread_abs_p75_15m", "spread_bps_p75_15m", "vwap_30m",
    ]  # fmt: skip
    assert records[0]["features"]["vwap_5m"] == pytest.approx(99.95033073036288, rel=1e-12)
    assert records[0]["features"]["vwap_30m"] is None  # 30m window needs data before the store
    table = _mdc(*argv, "--format", "table")
    lines = table.stdout.splitlines()
    assert table.returncode == 0 and lines[0].startswith(f"{VENUE} {SYMBOL} at 2023-11-14T")
    assert lines[1].split() == ["vwap_5m", "99.95033073036288"]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--symbol", "NOPE-USD", "--at", "2024-01-01"], "no events stored for binance NOPE-USD"),
        (["--symbol", SYMBOL, "--at", "yesterday"], "bad time"),
        (["--symbol", SYMBOL, "--from", "2024-01-01", "--to", "2024-01-02"], "--every"),
        (["--symbol", SYMBOL, "--at", "2024-01-01", "--every", "5m"], "either --at"),
        (["--symbol", SYMBOL, "--from", "1", "--to", "9", "--every", "5x"], "bad duration"),
        (["--symbol", SYMBOL, "--at", "1", "--config", "/nonexistent.yaml"], "cannot read"),
    ],
)
def test_errors_are_one_line_and_non_zero(data_dir, argv, needle):
    result = _mdc("features", "--data-dir", data_dir, "--venue", VENUE, *argv)
    assert result.returncode == 2 and result.stdout == ""
    assert needle in result.stderr and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
