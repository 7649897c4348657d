"""`mdc ingest` and `mdc normalize` on recordings with and without receive times: recorded times
are kept exactly and found by time; a bare line gets the documented stand-in, noted once."""

from __future__ import annotations

import json
import os
from decimal import Decimal

from mdc import cli
from mdc.events import from_json

# Binance spot bookTicker carries no time; the trade does (T = 1614650400100 ms).
TICKER_1 = (
    b'{"stream":"ftmusdt@bookTicker","data":{"u":800360982,"s":"FTMUSDT","b":"0.33989000",'
    b'"B":"1565.60000000","a":"0.34012000","A":"703.00000000"}}'
)
TICKER_2 = (
    b'{"u":800360984,"s":"FTMUSDT","b":"0.33993000","B":"1500.00000000","a":"0.34012000",'
    b'"A":"703.00000000"}'
)
TRADE = (
    b'{"e":"trade","E":1614650400101,"s":"ETHUSDT","t":705291099,"p":"1500.10000000",'
    b'"q":"0.43870000","b":1,"a":2,"T":1614650400100,"m":true,"M":true}'
)
RECORDED = (
    b"1614650400.123456: " + TICKER_1 + b"\n"
    b"1614650400.2: " + TRADE + b"\n"
    b"\n"
    b"1614650401.999999999:" + TICKER_2 + b"\n"
)
T1, T_TRADE, T2 = 1614650400123456000, 1614650400200000000, 1614650401999999999
MTIME = 1_700_000_000_123_456_789


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _write(path, content: bytes, mtime_ns: int | None = None) -> str:
    path.write_bytes(content)
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))
    return str(path)


def test_ingested_recording_is_found_by_its_recorded_receive_times(capsys, tmp_path):
    data = str(tmp_path / "data")
    code, _, err = _run(
        capsys, "ingest", "--venue", "binance", "--data-dir", data,
        _write(tmp_path / "rec.txt", RECORDED),
    )  # fmt: skip
    assert code == 0 and "stored 3 event(s)" in err, err
    assert "without a" not in err  # every line had its time: nothing to note

    code, out, _ = _run(
        capsys, "replay", "--data-dir", data,
        "--from", "2021-03-02T02:00:00Z", "--to", "2021-03-02T02:00:02Z",
    )  # fmt: skip
    events = [from_json(line) for line in out.splitlines()]
    assert code == 0
    assert [(type(e).__name__, e.ts_event, e.ts_recv) for e in events] == [
        ("Quote", T1, T1),  # no venue time: the recorded receive time stands in for it
        ("Trade", 1614650400100000000, T_TRADE),
        ("Quote", T2, T2),
    ]

    code, out, _ = _run(
        capsys, "query", "--data-dir", data, "--format", "json",
        f"SELECT ts_event, ts_recv, bid_price FROM quotes WHERE ts_recv >= {T1} "
        f"AND ts_recv < {T2} ORDER BY ts_recv",
    )  # fmt: skip
    rows = [json.loads(line, parse_float=Decimal) for line in out.splitlines()]
    assert code == 0
    assert [(r["ts_event"], r["ts_recv"], Decimal(r["bid_price"])) for r in rows] == [
        (T1, T1, Decimal("0.33989"))
    ]


def test_normalize_shows_the_recorded_receive_times(capsys, tmp_path):
    code, out, err = _run(
        capsys, "normalize", "--venue", "binance", _write(tmp_path / "rec.txt", RECORDED)
    )
    events = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and err == ""
    assert [(e["ts_event"], e["ts_recv"]) for e in events] == [
        (T1, T1),
        (1614650400100000000, T_TRADE),
        (T2, T2),
    ]


def test_bare_lines_get_their_venue_time_or_the_files_modification_time_noted_once(
    capsys, tmp_path
):
    bare = _write(tmp_path / "bare.jsonl", b"\n".join([TICKER_1, TRADE, TICKER_2]) + b"\n", MTIME)
    data = str(tmp_path / "data")
    code, _, err = _run(capsys, "ingest", "--venue", "binance", "--data-dir", data, bare)
    assert code == 0 and "stored 3 event(s)" in err
    notes = [line for line in err.splitlines() if "without a" in line]
    assert len(notes) == 1 and "3 line(s)" in notes[0]
    assert "2023-11-14T22:13:20.123456789Z" in notes[0]

    code, out, _ = _run(
        capsys, "replay", "--data-dir", data, "--from", "2021-01-01", "--to", "2024-01-01"
    )
    events = [from_json(line) for line in out.splitlines()]
    assert [(type(e).__name__, e.ts_event, e.ts_recv) for e in events] == [
        ("Trade", 1614650400100000000, 1614650400100000000),
        ("Quote", MTIME, MTIME),
        ("Quote", MTIME, MTIME),
    ]

    # Importing again stores nothing twice.
    code, _, err = _run(capsys, "ingest", "--venue", "binance", "--data-dir", data, bare)
    assert code == 0 and "stored 0 event(s), 3 duplicate(s)" in err

    code, out, err = _run(capsys, "normalize", "--venue", "binance", bare)
    assert code == 0 and err.count("without a") == 1
    assert [json.loads(line)["ts_recv"] for line in out.splitlines()] == [
        MTIME, 1614650400100000000, MTIME,
    ]  # fmt: skip
