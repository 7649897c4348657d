"""`mdc train` end to end: the real entry point trains a loadable model; bad input is one line."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from mdc import cli
from mdc.events import BookSnapshot, Trade, to_msgpack
from mdc.store import Store
from models.runtime import load_model
from models.synthetic import synthetic_events

MDC = str(Path(sys.executable).with_name("mdc"))
SECOND = 10**9
T0 = 1_700_000_000 * SECOND


def _train(*argv: str, hash_seed: str = "1") -> subprocess.CompletedProcess:
    env = os.environ | {"PYTHONHASHSEED": hash_seed}
    return subprocess.run(
        [MDC, "train", *argv], capture_output=True, text=True, timeout=120, check=False, env=env
    )


def test_synthetic_training_through_the_entry_point(tmp_path):
    argv = ["--synthetic-seconds", "90", "--seed", "3", "--kind", "gbc", "--version", "v3"]
    done = _train(*argv, "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "consumed" in done.stderr and "metrics: n_train=" in done.stderr
    assert done.stdout == ""
    model = load_model(tmp_path / "direction-v3")
    assert (model.name, model.version, model.card["training"]["kind"]) == ("direction", "v3", "gbc")
    events = list(synthetic_events(3, 90))
    digest = hashlib.sha256(b"".join(to_msgpack(e) for e in events)).hexdigest()
    assert model.card["data"]["sha256"] == digest
    assert model.card["data"]["events"] == len(events)
    assert model.card["data"]["from_ns"] == events[0].ts_event
    rows = model.card["metrics"]["n_train"] + model.card["metrics"]["n_test"]
    assert 150 <= rows < 2 * 90
    predictions = model.predict_matrix(np.zeros((3, len(model.features)), dtype=np.float32))
    assert all(0.0 <= p.probability_up <= 1.0 for p in predictions)

    again = _train(*argv, "--out", str(tmp_path))
    assert again.returncode == 2 and "exists" in again.stderr
    assert again.stderr.count("\n") == 1
    forced = _train(*argv, "--out", str(tmp_path), "--force", hash_seed="2")
    assert forced.returncode == 0, forced.stderr
    retrained = load_model(tmp_path / "direction-v3")
    # Same seed, same model, byte for byte, whatever the interpreter's hash seed.
    assert retrained.card["onnx_sha256"] == model.card["onnx_sha256"]


def _store(path: Path, events: list) -> str:
    with Store.open(str(path)) as store:
        store.append(events)
    return str(path)


def test_training_on_a_stored_range(capsys, tmp_path):
    data_dir = _store(tmp_path / "data", list(synthetic_events(5, 60)))
    # The range must hold each instrument's book snapshot (the stream's first event, at T0).
    window = ("--from", str(T0), "--to", str(T0 + 50 * SECOND))
    argv = ["train", "--data-dir", data_dir, *window, "--out", str(tmp_path / "out")]
    assert cli.main(argv) == 0
    assert "wrote" in capsys.readouterr().err
    card = load_model(tmp_path / "out" / "direction-v1").card
    with Store.open(data_dir, readonly=True) as store:
        stored = list(store.iter_events(T0, T0 + 50 * SECOND))
    assert card["data"]["events"] == len(stored) > 0
    assert card["data"]["sha256"] == hashlib.sha256(b"".join(map(to_msgpack, stored))).hexdigest()
    assert card["data"]["source"] == f"event store {data_dir} " + " ".join(window)
    assert card["data"]["from_ns"] == T0 and card["data"]["to_ns"] < T0 + 50 * SECOND
    assert card["metrics"]["n_train"] + card["metrics"]["n_test"] > 80


def _flat_books(n: int) -> list[BookSnapshot]:
    levels = ((Decimal(99), Decimal(1)),), ((Decimal(101), Decimal(1)),)
    return [
        BookSnapshot("binance", "BTC-USDT", T0 + k * SECOND, T0 + k * SECOND, *levels, update_id=k)
        for k in range(n)
    ]


def _error(capsys, *argv: str) -> str:
    assert cli.main(["train", *argv]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("mdc train: error:")]
    assert len(lines) == 1
    return lines[0]


def test_bad_input_is_one_clear_line(capsys, tmp_path):
    out = str(tmp_path / "out")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no event store" in _error(capsys, "--data-dir", str(empty), "--out", out)
    flat = _store(tmp_path / "flat", _flat_books(40))
    assert "all class 0" in _error(capsys, "--data-dir", flat, "--out", out)
    window = ("--from", "2030-01-01", "--to", "2030-01-02")
    assert "no events in event store" in _error(capsys, "--data-dir", flat, *window, "--out", out)
    trade = Trade("binance", "BTC-USDT", T0, T0, Decimal(1), Decimal(1), "buy", 1)
    trades_only = _store(tmp_path / "trades", [trade])
    assert "no labelled rows" in _error(capsys, "--data-dir", trades_only, "--out", out)
    assert not Path(out).exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--sample-every", "1 fortnight"], "bad duration '1 fortnight'"),
        (["--sample-every", "0.5ns"], "bad duration"),
        (["--version", "2"], "bad --version '2'"),
        (["--name", "Direction-X"], "bad --name"),
        (["--from", "2024-01-01"], "use them with --data-dir"),
        (["--synthetic-seconds", "0"], "must be a positive number"),
        (["--features-config", "/nonexistent.toml"], "cannot read feature config"),
    ],
)
def test_bad_options(capsys, tmp_path, argv, message):
    base = ["--synthetic-seconds", "5"] if "--synthetic-seconds" not in argv else []
    assert message in _error(capsys, *base, *argv, "--out", str(tmp_path))
