"""Hostile recordings through `mdc normalize`, `mdc ingest` and `mdc query` in-process: a bad line
is one line-numbered error and the rest is still read; nothing unstorable reaches the store, so
queries keep working; trades after a sequence jump are all kept; an oversize line is skipped
without being held; `mdc replay --type` names the valid types."""

from __future__ import annotations

import json
import tracemalloc

import pytest

from mdc import cli

TRADE = (
    b'{"stream":"btcusdt@trade","data":{"e":"trade","E":1700000000123,"s":"BTCUSDT","t":%d,'
    b'"p":"%s","q":"0.0015","T":1700000000121,"m":true,"M":true}}'
)
VENUE_LINES = {
    "binance": TRADE % (1, b"37012.45"),
    "coinbase": b'{"type":"match","trade_id":1,"side":"sell","size":"1","price":"10.5",'
    b'"product_id":"BTC-USD","sequence":1,"time":"2021-04-17T16:43:37.089723Z"}',
    "kraken": b'{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"buy",'
    b'"price":62710.5,"qty":0.0125,"ord_type":"market","trade_id":1,'
    b'"timestamp":"2026-07-09T17:20:01.456789Z"}]}',
    "alpaca": b'[{"T":"t","i":1,"S":"AAPL","x":"D","p":126.55,"s":1,"t":"2021-02-22T15:51:44.2Z"}]',
}


def mdc(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def recording(tmp_path, *lines: bytes) -> str:
    path = tmp_path / "rec.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return str(path)


def counts(capsys, data: str) -> dict:
    sql = "select (select count(*) from trades) as trades, (select 1) as one"
    code, out, err = mdc(capsys, "query", "--data-dir", data, "--format", "json", sql)
    assert code == 0, err
    [row] = map(json.loads, out.splitlines())
    return row


def test_unstorable_trades_are_refused_by_line_and_every_query_still_works(capsys, tmp_path):
    path = recording(
        tmp_path, TRADE % (1, b"1.5"), TRADE % (2, b"NaN"), TRADE % (3, b"Infinity"),
        TRADE % (4, b"1E+400"), TRADE % (5, b"-2"), TRADE % (10**40, b"2"), TRADE % (6, b"2.5"),
    )  # fmt: skip
    data = str(tmp_path / "data")
    code, _, err = mdc(capsys, "ingest", "--venue", "binance", "--data-dir", data, path)
    assert code == 1 and "Traceback" not in err
    reasons = {
        2: "price NaN is not a finite number", 3: "price Infinity is not a finite number",
        4: "price 1E+400 has more than 20 integer digits", 5: "price -2 must be > 0",
        6: f"trade_id {10**40} does not fit the store's int64",
    }  # fmt: skip
    for line, why in reasons.items():
        assert f"{path}:{line}: malformed message: trade {why}" in err, err
    assert "stored 2 event(s)" in err
    assert counts(capsys, data) == {"trades": 2, "one": 1}


@pytest.mark.parametrize("venue", sorted(VENUE_LINES))
@pytest.mark.parametrize("command", ["normalize", "ingest"])
def test_deep_nesting_is_one_numbered_error_and_the_other_lines_are_read(
    venue, command, capsys, tmp_path
):
    good = VENUE_LINES[venue]
    path = recording(tmp_path, good, b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 100_000, good)
    data = ("--data-dir", str(tmp_path / "data")) if command == "ingest" else ()
    code, out, err = mdc(capsys, command, "--venue", venue, *data, path)
    assert code == 1 and "Traceback" not in err
    assert f"{path}:3: malformed message: nested too deep to decode" in err
    assert f"{path}:2: malformed message" in err
    if command == "normalize":  # line 4 read too: its trade is the repeat of line 1's
        assert [e["type"] for e in map(json.loads, out.splitlines())].count("trade") == 1
        assert f"{path}:4: dropped: " in err
    else:
        assert "stored 1 event(s), 1 duplicate(s) skipped" in err


def test_coinbase_trades_after_a_sequence_jump_are_all_stored(capsys, tmp_path):
    lines = [
        b'{"type":"match","trade_id":%d,"side":"sell","size":"1","price":"10.5","product_id":'
        b'"BTC-USD","sequence":%d,"time":"2021-04-17T16:43:37.08972%dZ"}' % (tid, seq, tid)
        for tid, seq in enumerate((100, 101, 5000, 102, 103), 1)
    ]
    path = recording(tmp_path, *lines)
    code, out, err = mdc(capsys, "normalize", "--venue", "coinbase", path)
    assert code == 0 and [json.loads(x)["trade_id"] for x in out.splitlines()] == [1, 2, 3, 4, 5]
    data = str(tmp_path / "data")
    code, _, err = mdc(capsys, "ingest", "--venue", "coinbase", "--data-dir", data, path)
    assert code == 0 and "stored 5 event(s)" in err
    assert counts(capsys, data)["trades"] == 5


def test_a_repeated_trade_is_reported_with_its_line(capsys, tmp_path):
    path = recording(tmp_path, TRADE % (7, b"1"), TRADE % (8, b"1"), TRADE % (7, b"1"))
    code, out, err = mdc(capsys, "normalize", "--venue", "binance", path)
    assert code == 0 and len(out.splitlines()) == 2
    assert f"{path}:3: dropped: BTC-USDT trade 7: a repeat" in err


@pytest.mark.parametrize("command", ["normalize", "ingest"])
def test_an_oversize_line_is_skipped_without_being_held(command, capsys, tmp_path):
    good = TRADE % (1, b"1.5")
    path = recording(tmp_path, good, b'{"x":"' + b"a" * (16 << 20) + b'"}', TRADE % (2, b"1.5"))
    data = ("--data-dir", str(tmp_path / "data")) if command == "ingest" else ()
    tracemalloc.start()
    try:
        limit = ("--max-line-bytes", "4096")
        code, out, err = mdc(capsys, command, "--venue", "binance", *data, path, *limit)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert code == 1 and peak < 4 << 20, peak
    assert f"{path}:2: line longer than 4096 bytes (--max-line-bytes): skipped" in err
    assert ("stored 2 event(s)" in err) if command == "ingest" else len(out.splitlines()) == 2


def test_a_receive_time_past_int64_is_refused_by_line(capsys, tmp_path):
    path = recording(tmp_path, b"99999999999: " + TRADE % (1, b"1"), TRADE % (2, b"1"))
    code, out, err = mdc(capsys, "normalize", "--venue", "binance", path)
    assert code == 1 and f"{path}:1: receive time b'99999999999' is past the year 2262" in err
    assert len(out.splitlines()) == 1


def test_replay_refuses_an_unknown_type_and_names_the_valid_ones(capsys, tmp_path):
    with pytest.raises(SystemExit) as done:
        cli.main(["replay", "--data-dir", str(tmp_path), "--from", "2021-01-01", "--to",
                  "2021-01-02", "--type", "bogus"])  # fmt: skip
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'bogus'" in err
    assert "'book_delta'" in err and "'trade'" in err and "'quote'" in err
