"""`mdc query|book|replay|ingest` end to end on a real store: outputs and one-line errors."""

from __future__ import annotations

import itertools
import json
import random

import pytest

from mdc import cli
from mdc.events import from_json
from mdc.store import Store
from mdc.store.replay import Consumer, parse_time
from mdc.store.replay import replay as replay_events
from mdc.store.synth import book_stream, trades

FIXTURE = "tests/fixtures/binance/messages.jsonl"
T0 = 1_700_000_000_000_000_000


@pytest.fixture
def data_dir(tmp_path):
    rng = random.Random(5)
    with Store.open(str(tmp_path)) as store:
        store.append(trades(rng, 200, start_ns=T0) + book_stream(rng, 300, start_ns=T0))
        store.refresh(jsonl=False)
        store.append(trades(rng, 50, start_ns=T0 + 10**12, first_id=10_000))
    return str(tmp_path)


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_query_formats(capsys, data_dir):
    code, out, _ = _run(
        capsys,
        "query",
        "--data-dir",
        data_dir,
        "--format",
        "json",
        "SELECT count(*) AS n, min(price) AS low FROM trades",
    )
    row = json.loads(out)
    assert code == 0 and row["n"] == 250 and isinstance(row["low"], str)
    code, out, _ = _run(
        capsys,
        "query",
        "--data-dir",
        data_dir,
        "--format",
        "csv",
        "SELECT side, count(*) AS n FROM trades GROUP BY side ORDER BY side",
    )
    assert out.splitlines()[0] == "side,n" and len(out.splitlines()) == 3


def test_book_prints_the_book_at_an_instant(capsys, data_dir):
    code, out, _ = _run(
        capsys,
        "book",
        "--data-dir",
        data_dir,
        "--venue",
        "binance",
        "--symbol",
        "BTC-USDT",
        "--at",
        str(T0 + 10**9),
        "--depth",
        "3",
    )
    lines = out.splitlines()
    assert code == 0 and "in sync" in lines[0] and len(lines) == 5


def test_replay_streams_json_lines_in_order_with_filters(capsys, data_dir):
    code, out, _ = _run(
        capsys,
        "replay",
        "--data-dir",
        data_dir,
        "--from",
        "2023-11-14",
        "--to",
        "2023-11-15T00:00:00Z",
        "--type",
        "trade",
    )
    events = [from_json(line) for line in out.splitlines()]
    assert code == 0 and len(events) == 250
    assert [e.ts_recv for e in events] == sorted(e.ts_recv for e in events)


def test_ingesting_the_same_recording_twice_stores_nothing_twice(capsys, tmp_path):
    code, _, err = _run(
        capsys, "ingest", "--venue", "binance", "--data-dir", str(tmp_path), FIXTURE
    )
    stored = int(err.split("stored ")[1].split()[0])
    assert code == 0 and stored > 10
    code, _, err = _run(
        capsys, "ingest", "--venue", "binance", "--data-dir", str(tmp_path), FIXTURE
    )
    assert code == 0 and "stored 0 event(s)" in err and f"{stored} duplicate(s)" in err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["query", "SELEC 1"], "syntax error"),
        (["query", "SELECT * FROM nope"], "nope does not exist"),
        (["book", "--venue", "binance", "--symbol", "BTC-USDT", "--at", "yesterday"], "bad time"),
        (
            ["book", "--venue", "binance", "--symbol", "NOPE-USDT", "--at", "2024-01-01"],
            "no book events",
        ),
        (["replay", "--from", "2024-13-01", "--to", "2024-01-02"], "bad time"),
        (["replay", "--from", "2024-01-01", "--to", "2024-01-02", "--speed", "-1"], "bad speed"),
        (["ingest", "--venue", "nowhere"], "unknown venue"),
    ],
)
def test_errors_are_one_line_and_non_zero(capsys, data_dir, argv, needle):
    code, _, err = _run(capsys, argv[0], "--data-dir", data_dir, *argv[1:])
    assert code != 0
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("sub", ["missing", "empty"])
def test_missing_or_empty_data_dir_is_a_clear_error(capsys, tmp_path, sub):
    target = tmp_path / sub
    if sub == "empty":
        target.mkdir()
    code, _, err = _run(capsys, "query", "--data-dir", str(target), "SELECT 1")
    assert code != 0 and "no event store" in err and err.count("\n") == 1


def test_data_dir_defaults_to_the_environment(capsys, data_dir, monkeypatch):
    monkeypatch.setenv("MDC_DATA_DIR", data_dir)
    code, out, _ = _run(capsys, "query", "--format", "csv", "SELECT count(*) AS n FROM trades")
    assert code == 0 and out == "n\n250\n"


def test_time_formats():
    assert parse_time("2024-01-15T10:30:00Z") == 1705314600 * 10**9
    assert parse_time("2024-01-15T10:30:00.123456789Z") == 1705314600 * 10**9 + 123456789
    assert parse_time("2024-01-15") == 1705276800 * 10**9
    assert parse_time("17") == 17


class _Recorder:
    def __init__(self) -> None:
        self.seen: list[int] = []

    def on_event(self, event) -> None:
        self.seen.append(event.ts_recv)


def test_paced_replay_waits_by_receive_time_on_the_injected_clock():
    now = [0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += int(seconds * 10**9)

    evs = trades(random.Random(1), 5, start_ns=T0, step_ns=10**9)
    consumer: Consumer = _Recorder()
    assert replay_events(evs, consumer, speed=2.0, clock_ns=lambda: now[0], sleep=sleep) == 5
    gaps = [(b.ts_recv - a.ts_recv) / 2 / 10**9 for a, b in itertools.pairwise(evs)]
    assert waits == pytest.approx(gaps)
    assert consumer.seen == [e.ts_recv for e in evs]
