"""`mdc dlq list|show|replay|purge` end to end on a real data directory."""

from __future__ import annotations

import io
import random
from decimal import Decimal

import pytest

from mdc import cli
from mdc.dlq import DeadLetterQueue
from mdc.events import Trade
from mdc.store import Store

T0 = 1_700_000_000_000_000_000
GOOD_RAW = (
    b'{"e":"trade","E":1672515782136,"s":"BNBBTC","t":777,"p":"0.001","q":"100",'
    b'"b":88,"a":50,"T":1672515782136,"m":true,"M":true}'
)


def trade(n: int) -> Trade:
    return Trade("binance", "BTC-USDT", T0 + n, T0 + n, Decimal("1.25"), Decimal("3"), "buy", n)


@pytest.fixture
def data_dir(tmp_path):
    with DeadLetterQueue.open(str(tmp_path), rng=random.Random(3)) as dlq:
        dlq.add_events("storage_failure", "binance", [trade(1), trade(2)], "ENOSPC: disk full", T0)
        dlq.add_raw("parse_failure", "binance", GOOD_RAW, "parser bug", T0 + 10)
        dlq.add_raw("parse_failure", "kraken", b"\xff\x00garbage", "not json", T0 + 20)
    return str(tmp_path)


def mdc(*argv: str) -> int:
    return cli.main(list(argv))


def test_list_with_filters(data_dir, capsys):
    assert mdc("dlq", "list", "--data-dir", data_dir) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[:4] for line in lines] == [
        ["1", "pending", "storage_failure", "binance"],
        ["2", "pending", "parse_failure", "binance"],
        ["3", "pending", "parse_failure", "kraken"],
    ]
    assert (
        mdc("dlq", "list", "--data-dir", data_dir, "--cause", "parse_failure", "--venue", "kraken")
        == 0
    )
    assert [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()] == ["3"]
    since = "2023-11-14T22:13:20.000000005Z"
    assert (
        mdc("dlq", "list", "--data-dir", data_dir, "--since", since, "--until", str(T0 + 20)) == 0
    )
    assert [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()] == ["2"]


def test_show_prints_error_and_payload(data_dir, capsys):
    assert mdc("dlq", "show", "--data-dir", data_dir, "1") == 0
    out = capsys.readouterr().out
    assert "error: ENOSPC: disk full" in out and '"trade_id":2' in out and '"price":"1.25"' in out
    assert mdc("dlq", "show", "--data-dir", data_dir, "2") == 0
    assert GOOD_RAW.decode() in capsys.readouterr().out
    assert mdc("dlq", "show", "--data-dir", data_dir, "3") == 0
    assert "hex" in (out := capsys.readouterr().out) and b"\xff\x00garbage".hex() in out


def test_replay_stores_events_once_and_reports_failures(data_dir, capsys):
    assert mdc("dlq", "replay", "--data-dir", data_dir, "--all") == 1
    captured = capsys.readouterr()
    assert "replayed 2 entr(ies), 1 still failing" in captured.out
    assert "entry 3: still failing: kraken: malformed message" in captured.err
    assert mdc("dlq", "replay", "--data-dir", data_dir, "1", "2") == 0
    assert "replayed 2 entr(ies), 0 still failing" in capsys.readouterr().out
    with Store.open(data_dir, readonly=True) as store:
        ids = sorted(t.trade_id for t in store.iter_events(types=["trade"]))
    assert ids == [1, 2, 777]
    assert mdc("dlq", "list", "--data-dir", data_dir, "--state", "replayed") == 0
    assert len(capsys.readouterr().out.splitlines()) == 2


def test_purge_needs_yes_or_confirmation(data_dir, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    assert mdc("dlq", "purge", "--data-dir", data_dir, "--venue", "kraken") == 1
    assert "purge 1 DLQ entr(ies)" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    assert mdc("dlq", "purge", "--data-dir", data_dir, "--venue", "kraken") == 0
    assert mdc("dlq", "purge", "--data-dir", data_dir, "--yes", "1") == 0
    assert "purged 1 entr(ies)" in capsys.readouterr().out
    assert mdc("dlq", "list", "--data-dir", data_dir) == 0
    assert [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()] == ["2"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["show", "99"], "no DLQ entry with id 99"),
        (["list", "--state", "lost"], "state: unknown value 'lost'"),
        (["list", "--since", "yesterday"], "bad time 'yesterday'"),
        (["list", "--limit", "0"], "--limit must be a positive integer"),
        (["replay"], "give entry IDs, a filter, or --all"),
        (["purge", "--yes", "1", "--all"], "not both"),
        (["replay", "42"], "no DLQ entry with id 42"),
    ],
)
def test_errors_are_one_line_with_nonzero_exit(data_dir, capsys, argv, message):
    assert mdc("dlq", argv[0], "--data-dir", data_dir, *argv[1:]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.startswith("mdc dlq: error:")


def test_missing_dlq_and_locked_dlq(tmp_path, data_dir, capsys):
    assert mdc("dlq", "list", "--data-dir", str(tmp_path / "empty")) == 0
    assert "no entries" in capsys.readouterr().err
    assert mdc("dlq", "show", "--data-dir", str(tmp_path / "empty"), "1") == 2
    assert "no dead letter queue" in capsys.readouterr().err
    with DeadLetterQueue.open(data_dir):
        assert mdc("dlq", "list", "--data-dir", data_dir) == 2
    assert "open by another process" in capsys.readouterr().err


def test_help_is_complete(capsys):
    with pytest.raises(SystemExit):
        mdc("dlq", "replay", "--help")
    out = capsys.readouterr().out
    for flag in ("--data-dir", "--cause", "--venue", "--state", "--since", "--until", "--all"):
        assert flag in out
