"""`mdc query` reaches no file but the store's own: every file attack is refused with one line,
the store is byte-for-byte unchanged, and `--allow-export DIR` lets COPY write under DIR only."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest

from mdc import cli
from mdc.store import Store
from mdc.store.synth import book_stream, trades

T0 = 1_700_000_000_000_000_000
SECRET = "correct-horse-battery-staple"
VIEWS = [
    "SELECT count(*), sum(size) FROM trades",
    "SELECT interval_s, count(*), sum(trade_count) FROM bars GROUP BY ALL ORDER BY ALL",
    "SELECT count(*) FROM book_deltas",
]


@pytest.fixture
def data_dir(tmp_path) -> Path:
    """200 trades and a book in the Parquet projection, 50 more trades only in the WAL."""
    path = tmp_path / "store"
    rng = random.Random(5)
    with Store.open(str(path)) as store:
        store.append(trades(rng, 200, start_ns=T0) + book_stream(rng, 300, start_ns=T0))
        store.refresh(jsonl=False)
        store.append(trades(rng, 50, start_ns=T0 + 10**12, first_id=10_000))
    return path


@pytest.fixture
def secret(tmp_path) -> Path:
    path = tmp_path / "home" / "secret.txt"
    path.parent.mkdir()
    path.write_text(SECRET)
    return path


def digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def query(capsys, data_dir: Path, *argv: str) -> tuple[int, str, str]:
    code = cli.main(["query", "--data-dir", str(data_dir), "--format", "csv", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def segment(data_dir: Path) -> Path:
    return next((data_dir / "wal").rglob("*.seg"))


ATTACKS = {
    "read_text": ("SELECT content FROM read_text('{secret}')", "Permission Error"),
    "glob": ("SELECT file FROM glob('{home}/*')", "Permission Error"),
    "copy onto the WAL": ("COPY (SELECT 1) TO '{segment}' (FORMAT csv)", "COPY statements"),
    "copy elsewhere": ("COPY (SELECT 1) TO '{home}/out.csv'", "needs an export directory"),
    "explain analyze copy": ("EXPLAIN ANALYZE COPY (SELECT 1) TO '{segment}'", "EXPLAIN"),
    "attach": ("ATTACH '{home}/x.duckdb' AS x", "ATTACH statements"),
    "install": ("INSTALL httpfs", "not allowed"),
    "load": ("LOAD '{home}/x.duckdb_extension'", "not allowed"),
    "unlock": ("SET enable_external_access = true", "not allowed"),
    "two statements": ("SELECT 1; SELECT content FROM read_text('{secret}')", "2 given"),
    "empty": ("", "no SQL statement given"),
    "only a semicolon": (" ; ", "no SQL statement given"),
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_file_access_is_refused_in_one_line_and_the_store_is_unchanged(
    capsys, data_dir, secret, attack
):
    sql, needle = ATTACKS[attack]
    sql = sql.format(secret=secret, home=secret.parent, segment=segment(data_dir))
    before = digest(data_dir)
    code, out, err = query(capsys, data_dir, sql)
    assert (code, out) == (2, "")
    assert err.startswith("mdc query: error: ") and err.count("\n") == 1, err
    assert needle in err and SECRET not in err
    assert digest(data_dir) == before
    assert sorted(p.name for p in secret.parent.iterdir()) == ["secret.txt"]


def test_export_writes_under_the_opt_in_directory_only(capsys, data_dir, tmp_path):
    exports = tmp_path / "exports"
    exports.mkdir()
    before = digest(data_dir)
    target = exports / "trades.csv"
    copy = f"COPY (SELECT trade_id FROM trades ORDER BY trade_id) TO '{target}' (HEADER false)"
    code, _, err = query(capsys, data_dir, "--allow-export", str(exports), copy)
    assert code == 0, err
    assert len(target.read_text().split()) == 250  # the Parquet projection and the WAL tail
    onto = f"COPY (SELECT 1) TO '{segment(data_dir)}' (FORMAT csv)"
    code, _, err = query(capsys, data_dir, "--allow-export", str(exports), onto)
    assert code == 2 and "Permission Error" in err and err.count("\n") == 1
    for bad in (data_dir, data_dir / "parquet", tmp_path):
        code, _, err = query(capsys, data_dir, "--allow-export", str(bad), "SELECT 1")
        assert code == 2 and "overlaps the data directory" in err and err.count("\n") == 1
    assert digest(data_dir) == before


def test_views_read_the_same_rows_with_and_without_an_export_directory(capsys, data_dir, tmp_path):
    exports = tmp_path / "exports"
    exports.mkdir()
    plain = [query(capsys, data_dir, sql) for sql in VIEWS]
    exporting = [query(capsys, data_dir, "--allow-export", str(exports), sql) for sql in VIEWS]
    assert [code for code, _, _ in plain] == [0, 0, 0]
    assert plain == exporting
    assert plain[0][1].splitlines()[1].startswith("250,")
