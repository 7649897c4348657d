"""Projections are functions of the WAL: incremental refreshes equal a rebuild from scratch; the
book at any instant from checkpoints equals the full replay."""

from __future__ import annotations

import os
import random

import pytest

from mdc.store import Store
from mdc.store.parquet import REFRESHING
from mdc.store.projection import ProjectionState
from mdc.store.synth import book_stream, trades
from mdc.sync import BookSync, SequenceRules

T0 = 1_700_000_000_000_000_000


def book_sync(venue: str, symbol: str):
    """The live system's sync (the venue registry's once it exists)."""
    try:
        from mdc.venues.registry import get_venue
    except ImportError:
        return BookSync(venue, symbol, SequenceRules())
    return get_venue(venue).book_sync(symbol)


def _open(path) -> Store:
    store = Store.open(str(path), book_sync=book_sync)
    store.checkpoints.interval_ns = 5 * 10**9
    return store


def _events(seed: int) -> list:
    rng = random.Random(seed)
    day2 = T0 + 86_400 * 10**9
    return (
        trades(rng, 3000, step_ns=50_000_000)
        + trades(rng, 500, symbol="ETH-USDT", start_ns=day2)
        + book_stream(rng, 3000, gap_every=700)
    )


def _snapshot(data_dir: str, root: str) -> dict[str, bytes]:
    out = {}
    base = os.path.join(data_dir, root)
    for directory, _, files in os.walk(base):
        for name in files:
            with open(os.path.join(directory, name), "rb") as f:
                out[os.path.relpath(os.path.join(directory, name), base)] = f.read()
    return out


QUERIES = (
    "SELECT * FROM trades ORDER BY venue, symbol, wal_seq",
    "SELECT * FROM book_deltas ORDER BY venue, symbol, wal_seq, side, price, size",
    "SELECT * FROM bars ORDER BY ALL",
)


def _set_batches(store: Store, sizes: tuple[int, int, int]) -> tuple[int, int, int]:
    """Set the events per batch of the Parquet, JSONL and checkpoint refreshes; returns the
    sizes they had."""
    old = (store.parquet.chunk_records, store.jsonl.batch_events, store.checkpoints.batch_events)
    store.parquet.chunk_records, store.jsonl.batch_events, store.checkpoints.batch_events = sizes
    return old


@pytest.mark.parametrize("batch_events", [None, 97], ids=["default-batches", "small-batches"])
def test_incremental_refreshes_equal_a_rebuild_from_the_wal(tmp_path, batch_events):
    """Small batches cut every stream into many batches (and Parquet files), interleaved with
    the other streams; the rebuild then projects with the default sizes."""
    evs = _events(1)
    with _open(tmp_path) as store:
        defaults = _set_batches(store, (batch_events,) * 3) if batch_events else None
        for i, cut in enumerate(range(0, len(evs), 1300)):
            store.append(evs[cut : cut + 1300])
            if i % 2 == 0:
                store.refresh()
        store.refresh()
        incremental = [store.query(q).rows for q in QUERIES]
        jsonl = _snapshot(str(tmp_path), "jsonl")
        ckpts = _snapshot(str(tmp_path), "checkpoints")
        assert len(ckpts) > 5
        if batch_events:
            assert len(store.parquet.files("trades")) > 3500 // batch_events
        store.drop_projections()
        assert not os.path.exists(tmp_path / "parquet")
        if defaults:
            _set_batches(store, defaults)
        store.refresh()
        assert [store.query(q).rows for q in QUERIES] == incremental
        assert _snapshot(str(tmp_path), "jsonl") == jsonl
        assert _snapshot(str(tmp_path), "checkpoints") == ckpts
    assert len(incremental[0]) == 3500


class _Crash(Exception):
    pass


def _crash(*_: object) -> None:
    raise _Crash


def test_a_parquet_refresh_cut_short_is_redone_without_doubled_rows(tmp_path, monkeypatch):
    """A refresh killed after writing a batch's files but before saving its positions; by the
    next one, events older than those files arrived on another stream, so the merge cuts the
    stream into other batches: what the first one wrote must not stay beside what is rewritten
    (here the BTC file of the second day, which the rewrite names differently)."""
    rng, midnight = random.Random(4), T0 - T0 % (86_400 * 10**9) + 86_400 * 10**9
    btc = trades(rng, 50, start_ns=midnight - 10**9) + trades(
        rng, 50, start_ns=midnight, first_id=51
    )
    eth = trades(rng, 60, symbol="ETH-USDT", start_ns=midnight - 10 * 10**9)
    with _open(tmp_path) as store:
        store.parquet.chunk_records = 100
        store.append(btc)
        monkeypatch.setattr(ProjectionState, "save", _crash)
        with pytest.raises(_Crash):
            store.parquet.refresh(store.wal)
        monkeypatch.undo()
        assert len(store.parquet.files("trades")) == 2  # BTC 0-99, one file per day
        store.append(eth)
        store.parquet.refresh(store.wal)
        rows = store.query(QUERIES[0]).rows
        assert [(r[1], r[5]) for r in rows] == [("BTC-USDT", s) for s in range(100)] + [
            ("ETH-USDT", s) for s in range(60)
        ]
        assert not os.path.exists(tmp_path / "parquet" / REFRESHING)
        store.drop_projections()
        store.parquet.refresh(store.wal)
        assert store.query(QUERIES[0]).rows == rows


def test_queries_see_the_unprojected_wal_tail(tmp_path):
    evs = _events(2)
    with _open(tmp_path) as store:
        store.append(evs[:2000])
        store.refresh()
        store.append(evs[2000:])
        (count,) = store.query("SELECT count(*) FROM trades").rows[0]
        (bars_count,) = store.query("SELECT sum(trade_count) FROM bars WHERE interval_s = 60").rows[
            0
        ]
        (levels,) = store.query("SELECT count(*) FROM book_deltas").rows[0]
    assert count == bars_count == 3500
    assert levels == sum(len(e.bids) + len(e.asks) for e in evs if hasattr(e, "bids"))


def test_jsonl_projection_holds_one_line_per_event(tmp_path):
    evs = _events(3)
    with _open(tmp_path) as store:
        store.append(evs)
        store.refresh(checkpoints=False)
    lines = sum(
        v.count(b"\n") for k, v in _snapshot(str(tmp_path), "jsonl").items() if k.endswith(".jsonl")
    )
    assert lines == len(evs)


@pytest.mark.parametrize("seed", range(3))
def test_book_at_from_checkpoints_equals_full_replay(tmp_path, seed):
    rng = random.Random(seed)
    evs = book_stream(rng, 4000, gap_every=900)
    with _open(tmp_path) as store:
        store.append(evs)
        store.refresh(jsonl=False)
        ends = [evs[0].ts_recv - 1, evs[-1].ts_recv + 1]
        used = 0
        for at in ends + [rng.randint(evs[0].ts_recv, evs[-1].ts_recv) for _ in range(25)]:
            fast = store.book_at("binance", "BTC-USDT", at)
            full = store.book_at("binance", "BTC-USDT", at, use_checkpoints=False)
            assert (fast.bids, fast.asks, fast.in_sync, fast.last_seq) == (
                full.bids,
                full.asks,
                full.in_sync,
                full.last_seq,
            )
            used += fast.checkpoint_seq is not None and fast.replayed < full.replayed
        assert used > 10
        assert store.book_at("binance", "BTC-USDT", ends[0]).bids == []
