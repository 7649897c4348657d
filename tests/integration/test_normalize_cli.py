"""`mdc normalize` through the real entry point: recorded messages of every venue in, normalized
JSON lines out; malformed lines reported with their number; --strict stops at the first."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BINANCE_SINGLES = (FIXTURES / "binance" / "nautilus_singles.jsonl").read_bytes().splitlines()
NO_KEYS = {k: v for k, v in os.environ.items() if not k.startswith("APCA_")}


def normalize(venue: str, stdin: bytes, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mdc.cli", "normalize", "--venue", venue, *options],
        input=stdin,
        capture_output=True,
        env=NO_KEYS,
        timeout=60,
        check=False,
    )


def lines_of(done: subprocess.CompletedProcess) -> list[dict]:
    return [json.loads(line) for line in done.stdout.splitlines()]


@pytest.mark.parametrize("venue", ["binance", "coinbase", "kraken", "alpaca"])
def test_every_recording_normalizes_without_errors(venue):
    recordings = sorted((FIXTURES / venue).glob("*.jsonl"))
    assert recordings
    for recording in recordings:
        done = normalize(venue, recording.read_bytes())
        assert done.returncode == 0, (recording.name, done.stderr.decode())
        for event in lines_of(done):
            assert event["type"] in {
                "trade", "quote", "book_snapshot", "book_delta", "bar", "gap", "status",
            }  # fmt: skip
            assert event["venue"] == venue


def test_alpaca_needs_no_credentials_and_reads_bare_messages_as_the_docs_print_them():
    trade = (
        b'{"T":"t","i":96921,"S":"AAPL","x":"D","p":126.55,"s":1,'
        b'"t":"2021-02-22T15:51:44.208Z","c":["@","I"],"z":"C"}'
    )
    bare, framed = normalize("alpaca", trade + b"\n"), normalize("alpaca", b"[" + trade + b"]\n")
    assert bare.returncode == framed.returncode == 0, bare.stderr
    assert lines_of(bare) == lines_of(framed)
    (event,) = lines_of(bare)
    assert (event["type"], event["symbol"], event["price"], event["size"]) == (
        "trade", "AAPL", "126.55", "1",
    )  # fmt: skip
    assert event["trade_id"] == 96921 and event["ts_event"] == 1614009104208000000


def test_malformed_lines_are_reported_by_number_and_the_rest_still_written():
    trade, _agg_trade, book_ticker = BINANCE_SINGLES
    stdin = b"\n".join([trade, b"{not json", book_ticker, b'{"e":"trade"}']) + b"\n"
    done = normalize("binance", stdin)
    assert done.returncode == 1
    assert len(lines_of(done)) == 2
    stderr = done.stderr.decode()
    assert "<stdin>:2: malformed message" in stderr
    assert "<stdin>:4: malformed message" in stderr


def test_strict_stops_at_the_first_bad_line():
    trade, _agg_trade, book_ticker = BINANCE_SINGLES
    done = normalize("binance", b"\n".join([trade, b"{not json", book_ticker]) + b"\n", "--strict")
    assert done.returncode == 2
    assert len(lines_of(done)) == 1
    assert "stopping at the first bad line" in done.stderr.decode()
