"""`mdc dataset` and `mdc train --dataset` with the real git and DVC and a local remote.

The promise under test: training on a snapshot gives the data hash of training on the same
selection of the store, and still does after the snapshot was wiped from the cache and pulled
back from the remote; failures are one line and never leave a half-made version.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from mdc import cli
from mdc.events import Trade, to_msgpack
from mdc.store import Store
from models.dvc_repo import Workspace, dvc_reason
from models.snapshot import (
    DatasetError,
    DatasetRef,
    Listed,
    Manifest,
    Selection,
    SnapshotHead,
    format_listing,
    format_span,
    parse_ref,
    read_events,
    read_manifest,
    write_snapshot,
)
from models.synthetic import synthetic_events

MDC = str(Path(sys.executable).with_name("mdc"))
SECOND = 10**9
T0 = 1_700_000_000 * SECOND
"""models.synthetic's start: each instrument's book snapshot is stored at T0."""


def _mdc(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [MDC, *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=os.environ | {"DVC_NO_ANALYTICS": "1", "PYTHONHASHSEED": "1"},
    )


def _store(data_dir: Path) -> Path:
    """60 s of binance BTC-USDT and ETH-USDT, and of coinbase BTC-USD."""
    events = [
        *synthetic_events(5, 60),
        *synthetic_events(6, 60, venue="coinbase", symbols=("BTC-USD",)),
    ]
    with Store.open(str(data_dir)) as store:
        store.append(events)
    return data_dir


def _stored(data_dir: Path, selection: Selection) -> list[bytes]:
    s = selection
    with Store.open(str(data_dir), readonly=True) as store:
        return [to_msgpack(e) for e in store.iter_events(s.start_ns, s.end_ns, s.venue, s.symbol)]


def _sha256(encoded: list[bytes]) -> str:
    return hashlib.sha256(b"".join(encoded)).hexdigest()


def _card(out: Path, version: str) -> dict:
    return json.loads((out / f"direction-{version}" / "card.json").read_text())


def test_snapshot_list_train_wipe_pull_and_a_second_version(tmp_path, capsys):
    data = _store(tmp_path / "data")
    out = tmp_path / "out"
    window = ("--from", str(T0), "--to", str(T0 + 50 * SECOND))
    done = _mdc("dataset", "snapshot", "--data-dir", str(data), "--name", "btc", *window,
                "--venue", "binance", "--symbol", "BTC-USDT")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("btc@1\t")
    workspace = data / "datasets"
    manifest = read_manifest(workspace / "btc" / "1" / "manifest.json")
    selection = Selection(T0, T0 + 50 * SECOND, "binance", "BTC-USDT")
    expected = _stored(data, selection)
    assert manifest.selection == selection
    # Only the selection, all of it, byte for byte (decimals exact), in stored order.
    snapped = list(read_events(workspace / "btc" / "1" / "events.parquet"))
    assert {(e.venue, e.symbol) for e in snapped} == {("binance", "BTC-USDT")}
    assert all(T0 <= e.ts_recv < T0 + 50 * SECOND for e in snapped)
    assert [to_msgpack(e) for e in snapped] == expected
    assert (manifest.events, manifest.sha256) == (len(expected), _sha256(expected))
    assert set(manifest.types) == {"book_snapshot", "book_delta", "trade"}

    listing = _mdc("dataset", "list", "--data-dir", str(data))
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert len(lines) == 2 and all(len(line) <= 80 for line in lines)
    assert lines[1].split() == [
        "btc@1", str(len(expected)), "2023-11-14", "22:13:20", "49s", manifest.sha256[:8], "yes",
        "binance:BTC-USDT",
    ]  # fmt: skip

    assert cli.main(["train", "--data-dir", str(data), "--dataset", "btc", "--out", str(out)]) == 0
    card = _card(out, "v1")
    assert card["data"]["sha256"] == manifest.sha256 == _sha256(expected)
    assert card["data"]["dataset"]["ref"] == "btc@1"

    # Wiped from the cache and the workspace: pulled back from the remote, same data.
    shutil.rmtree(workspace / ".dvc" / "cache")
    (workspace / "btc" / "1" / "events.parquet").unlink()
    [item] = Workspace.existing(workspace, print).listed()
    assert not item.in_cache and not item.in_workspace
    again = _mdc("train", "--data-dir", str(data), "--dataset", "btc@1", "--out", str(out),
                 "--version", "v2")  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "pulling btc@1" in again.stderr
    assert _card(out, "v2")["data"]["sha256"] == manifest.sha256

    # A second version of another range (all instruments): its own hash, the one training on
    # that range of the store gives; btc@1 still names the first, btc the newest.
    later = ("--from", str(T0), "--to", str(T0 + 30 * SECOND))
    second = _mdc("dataset", "snapshot", "--data-dir", str(data), "--name", "btc", *later)
    assert second.returncode == 0, second.stderr
    assert second.stdout.startswith("btc@2\t")
    direct = ["train", "--data-dir", str(data), *later, "--out", str(out), "--version", "v3"]
    assert cli.main(direct) == 0
    sha2 = read_manifest(workspace / "btc" / "2" / "manifest.json").sha256
    assert sha2 == _card(out, "v3")["data"]["sha256"] != manifest.sha256
    repo = Workspace.existing(workspace, print)
    assert repo.resolve(parse_ref("btc@1")).manifest.sha256 == manifest.sha256
    assert repo.resolve(parse_ref("btc")).manifest.sha256 == sha2
    first = repo.resolve(parse_ref("btc@1")).commit
    assert first == card["data"]["dataset"]["commit"]
    assert repo.resolve(DatasetRef("btc", first)).manifest.version == 1
    assert repo.resolve(DatasetRef("btc", "HEAD")).manifest.version == 2
    capsys.readouterr()
    assert cli.main(["dataset", "list", "--data-dir", str(data), "--json"]) == 0
    as_json = json.loads(capsys.readouterr().out)
    assert [(v["ref"], v["sha256"], v["in_cache"]) for v in as_json] == [
        ("btc@1", manifest.sha256, True),
        ("btc@2", sha2, True),
    ]


def _error(capsys, *argv: str) -> str:
    """The one error line of a failing command (exit 2)."""
    assert cli.main(list(argv)) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if ": error: " in line]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_errors_are_one_line_and_leave_no_half_made_version(tmp_path, capsys):
    data = _store(tmp_path / "data")
    workspace = data / "datasets"
    out = str(tmp_path / "out")
    snap = ["dataset", "snapshot", "--data-dir", str(data), "--name", "eth"]
    assert cli.main([*snap, "--symbol", "ETH-USDT", "--to", str(T0 + 40 * SECOND)]) == 0
    capsys.readouterr()
    config = (workspace / ".dvc" / "config.local").read_text()
    train = ["train", "--data-dir", str(data), "--out", out]

    assert "no dataset 'nope'" in _error(capsys, *train, "--dataset", "nope")
    assert "has no version 9 (versions: 1)" in _error(capsys, *train, "--dataset", "eth@9")
    assert "unknown revision 'v0'" in _error(capsys, *train, "--dataset", "eth@v0")
    assert "bad dataset name" in _error(capsys, *snap[:-1], "Eth")
    assert "cannot narrow --dataset" in _error(
        capsys, *train, "--dataset", "eth", "--from", "2023-11-14"
    )
    with pytest.raises(SystemExit) as exited:
        cli.main(["train", "--dataset", "eth", "--synthetic-seconds", "5", "--out", out])
    assert exited.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err

    empty = _error(capsys, *snap, "--from", "2030-01-01")
    assert "no events in event store" in empty and "--from 2030-01-01" in empty
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("")
    pushed = _error(capsys, *snap, "--remote", str(not_a_folder / "remote"))
    assert "could not push eth@2 to the DVC remote mdc" in pushed
    repo = Workspace.existing(workspace, print)
    assert repo.versions() == {"eth": [1]}
    assert not (workspace / "eth" / "2").exists()
    assert repo.git("status", "--porcelain") == ""
    assert (workspace / ".dvc" / "config.local").read_text() == config

    # Neither in the workspace, the cache nor the remote: the pull fails in one line.
    shutil.rmtree(workspace / ".dvc" / "cache")
    (workspace / "eth" / "1" / "events.parquet").unlink()
    shutil.rmtree(data / "dvc-remote")
    pulled = _error(capsys, *train, "--dataset", "eth@1")
    assert "could not pull eth@1 from the DVC remote mdc" in pulled
    assert "the remote does not hold this data" in pulled
    assert not Path(out).exists()


def test_without_dvc_the_commands_say_how_to_install_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "dvc", None)  # import dvc fails, as when not installed
    for argv in (
        ["dataset", "list", "--data-dir", str(tmp_path)],
        ["dataset", "snapshot", "--data-dir", str(tmp_path), "--name", "x"],
        ["train", "--dataset", "x", "--data-dir", str(tmp_path), "--out", str(tmp_path / "o")],
    ):
        line = _error(capsys, *argv)
        assert "pip install 'mdc[datasets]'" in line and "bash scripts/setup datasets" in line


def test_a_snapshot_gives_back_the_very_events_it_was_given(tmp_path):
    trade = Trade("kraken", "XBT-USD", T0, T0 + 1, Decimal("1.50"), Decimal("0.10"), "buy", None)
    events = [*synthetic_events(2, 3), trade]
    head = SnapshotHead("x", 1, Selection(), "unit test", T0, "0")
    manifest = write_snapshot(events, tmp_path, head)
    back = list(read_events(tmp_path / "events.parquet"))
    assert [to_msgpack(e) for e in back] == [to_msgpack(e) for e in events]
    assert back[-1].price.as_tuple() == Decimal("1.50").as_tuple()
    assert manifest.sha256 == _sha256([to_msgpack(e) for e in events])
    assert read_manifest(tmp_path / "manifest.json") == manifest
    assert sorted(os.listdir(tmp_path)) == ["events.parquet", "manifest.json"]


def test_listing_fits_80_columns_and_spans_read_well():
    manifest = Manifest(
        "abcdefghij", 12, Selection(), "s", 12345678, "f" * 64, T0,
        T0 + 3 * 86400 * SECOND, [("binance", "BTC-USDT"), ("coinbase", "BTC-USD")], {}, "t", "0",
    )  # fmt: skip
    lines = format_listing([Listed(manifest, None, in_cache=False, in_workspace=False)])
    assert [len(line) <= 80 for line in lines] == [True, True]
    assert lines[1].split()[-4:] == ["ffffffff", "no", "2", "venues,~"]
    single = msgspec.structs.replace(manifest, name="btc", instruments=[("kraken", "XBT-USD")])
    lines = format_listing([Listed(single, None, in_cache=True, in_workspace=False)])
    assert lines[1].endswith("ffffffff  yes    kraken:XBT-USD")
    spans = [49, 250, 7500, 3 * 86400 + 4 * 3600]
    assert [format_span(s * SECOND) for s in spans] == ["49s", "4m10s", "2h05m", "3d04h"]


def test_refs_and_dvc_reasons():
    assert parse_ref("btc") == DatasetRef("btc", None)
    assert parse_ref("btc@2") == DatasetRef("btc", "2")
    assert parse_ref("btc@a1b2c3") == DatasetRef("btc", "a1b2c3")
    for bad in ("btc@", "BTC", "1btc", "b/c"):
        with pytest.raises(DatasetError):
            parse_ref(bad)
    noisy = "Collecting\nERROR: unexpected error - [Errno 13] Permission denied: 'x'\n\nHelp\n"
    assert dvc_reason(noisy) == "[Errno 13] Permission denied: 'x'"
    assert dvc_reason("") == "dvc failed without saying why"
