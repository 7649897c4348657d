"""`mdc store check|repair`, and what `mdc ingest|query|replay` say about refused events and
damage in the log, end to end on real stores."""

from __future__ import annotations

import json
import os
import random

import msgspec

from mdc import cli
from mdc.events import Trade, from_json
from mdc.store import Store
from mdc.store import records as rec
from mdc.store.streams import Stream
from mdc.store.synth import trades

BTC = Stream("binance", "trades", "BTC-USDT")
T0 = 1_700_000_000_000_000_000
HUGE = 10**40


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _segments(data_dir: str) -> list[str]:
    directory = os.path.join(data_dir, "wal", BTC.dirname)
    return [os.path.join(directory, n) for n in sorted(os.listdir(directory))]


def _stored(data_dir: str, n: int = 100) -> list[Trade]:
    evs = trades(random.Random(7), n, start_ns=T0)
    with Store.open(data_dir, segment_bytes=4000) as store:
        for i in range(0, n, 10):
            store.append(evs[i : i + 10])
        store.refresh()
    return evs


def _agg_trades(path: str, ids: list[int]) -> None:
    with open(path, "w") as f:
        for i, trade_id in enumerate(ids):
            data = {"e": "aggTrade", "E": 1_700_000_000_000 + i, "s": "BTCUSDT", "a": trade_id}
            data |= {"p": "42000.5", "q": "0.1", "f": i, "l": i, "T": 1_700_000_000_000 + i}
            data |= {"m": False, "M": True}
            f.write(json.dumps({"stream": "btcusdt@aggTrade", "data": data}) + "\n")


def _bumped(append):
    """`Store.append`, but trade id 1007 arrives as 10**40 (which the binance parser refuses):
    the store must defend itself whatever a parser lets through."""

    def bumped(store: Store, events: list) -> object:
        huge = [
            msgspec.structs.replace(e, trade_id=HUGE) if e.trade_id == 1007 else e for e in events
        ]
        return append(store, huge)

    return bumped


def test_ingest_reports_the_event_the_store_refuses_and_stores_the_rest(
    capsys, tmp_path, monkeypatch
):
    data_dir, recording = str(tmp_path / "data"), str(tmp_path / "in.jsonl")
    _agg_trades(recording, list(range(1000, 1020)))
    monkeypatch.setattr(Store, "append", _bumped(Store.append))
    code, _, err = _run(capsys, "ingest", "--venue", "binance", "--data-dir", data_dir, recording)
    assert code == 1
    assert f"event not stored: binance|BTC-USDT|trade|agg|{HUGE}: OverflowError" in err
    assert "stored 19 event(s), 0 duplicate(s) skipped, 1 event(s) refused" in err
    monkeypatch.undo()
    code, _, err = _run(capsys, "ingest", "--venue", "binance", "--data-dir", data_dir, recording)
    assert code == 0 and "stored 1 event(s), 19 duplicate(s) skipped" in err


def test_check_finds_a_damaged_segment_replay_reads_around_it_repair_mends_it(capsys, tmp_path):
    data_dir = str(tmp_path)
    evs = _stored(data_dir)
    damaged = _segments(data_dir)[2]  # seqs 40..59, two frames
    with open(damaged, "r+b") as f:
        f.seek(100)
        f.write(b"\x00\x01\x02\x03")
    intact = evs[:40] + evs[50:]

    code, out, _ = _run(capsys, "store", "check", "--data-dir", data_dir)
    assert code == 1
    assert f"{BTC}: 5 segment(s), 90 record(s)" in out
    assert f"  {os.path.basename(damaged)}: seqs 40-59, 10 record(s)" in out and "DAMAGED" in out
    assert f"{damaged} bytes 0-" in out and "10 record(s) lost at seq 40; still in place" in out

    span = ["--from", str(T0), "--to", str(T0 + 10**12)]
    code, out, err = _run(capsys, "replay", "--data-dir", data_dir, *span)
    assert code == 0 and [from_json(line) for line in out.splitlines()] == intact
    assert "mdc replay: warning:" in err and "10 record(s) lost at seq 40" in err

    code, out, _ = _run(capsys, "store", "repair", "--data-dir", data_dir)
    quarantined = os.path.join(data_dir, "quarantine", BTC.dirname, f"{40:020d}-0.bad")
    assert code == 0 and f"moved to {quarantined}" in out
    assert f"{BTC}: seqs 50-59 marked as a known hole" in out
    assert f"{BTC}: projections rebuilt from seq 40" in out
    code, out, _ = _run(capsys, "store", "check", "--data-dir", data_dir)
    assert code == 0 and out.endswith("clean\n")
    code, out, err = _run(
        capsys, "query", "--data-dir", data_dir, "--format", "csv", "SELECT count(*) n FROM trades"
    )
    assert (code, out, err) == (0, "n\n90\n", "")


def test_check_names_a_missing_segment_exactly(capsys, tmp_path):
    data_dir = str(tmp_path)
    _stored(data_dir)
    gone = _segments(data_dir)[3]
    os.remove(gone)
    code, out, _ = _run(capsys, "store", "check", "--data-dir", data_dir)
    assert code == 1
    assert f"segment {gone} is missing: 20 record(s) lost (seqs 60-79)" in out
    code, out, _ = _run(capsys, "store", "repair", "--data-dir", data_dir)
    assert code == 0 and f"{BTC}: projections rebuilt from seq 60" in out
    code, out, _ = _run(capsys, "store", "check", "--data-dir", data_dir)
    assert code == 0 and "20 record(s) lost earlier (a known hole)" in out


def test_query_warns_about_a_torn_tail_and_check_does_not_call_it_damage(capsys, tmp_path):
    data_dir = str(tmp_path)
    _stored(data_dir)
    newest = _segments(data_dir)[-1]
    with open(newest, "ab") as f:
        f.write(rec.encode(b"\x91\x01")[:5])
    code, out, err = _run(
        capsys, "query", "--data-dir", data_dir, "--format", "csv", "SELECT count(*) n FROM trades"
    )
    assert (code, out) == (0, "n\n100\n")
    assert f"mdc query: warning: {newest}: torn tail (torn_header): 5 byte(s)" in err
    code, out, _ = _run(capsys, "store", "check", "--data-dir", data_dir)
    assert code == 0 and "torn tail" in out and out.endswith("clean\n")
