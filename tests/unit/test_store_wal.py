"""WAL: durability format, recovery of torn tails, dedup across restarts, rotation, retention."""

from __future__ import annotations

import os
import random

import pytest

from mdc.events import Trade, identity
from mdc.store import CorruptRecord, Store
from mdc.store import records as rec
from mdc.store.streams import Stream, stream_of
from mdc.store.synth import book_stream, trades

TRADES = Stream("binance", "trades", "BTC-USDT")


def _segments(data_dir: str, stream: Stream) -> list[str]:
    path = os.path.join(data_dir, "wal", stream.dirname)
    return [os.path.join(path, n) for n in sorted(os.listdir(path))]


def test_append_is_readable_in_order_after_reopen(tmp_path):
    evs = trades(random.Random(1), 500)
    with Store.open(str(tmp_path)) as store:
        assert store.append(evs[:300]).stored == 300
        assert store.append(evs[300:]).stored == 200
    with Store.open(str(tmp_path)) as store:
        assert list(store.iter_events()) == evs
        assert store.recovery.truncations == ()


def test_iter_events_merges_streams_by_ts_recv_and_filters(tmp_path):
    rng = random.Random(2)
    a = trades(rng, 50, symbol="BTC-USDT")
    b = trades(rng, 50, symbol="ETH-USDT")
    book = book_stream(rng, 30)
    with Store.open(str(tmp_path)) as store:
        store.append(a + b + book)
        merged = list(store.iter_events())
        assert [e.ts_recv for e in merged] == sorted(e.ts_recv for e in a + b + book)
        only_eth = list(store.iter_events(symbol="ETH-USDT", types={"trade"}))
        assert only_eth == b
        window = list(store.iter_events(start_ns=a[10].ts_recv, end_ns=a[20].ts_recv))
        assert [e for e in window if e.symbol == "BTC-USDT" and isinstance(e, Trade)] == a[10:20]


def test_duplicates_are_not_stored_even_after_restart(tmp_path):
    evs = trades(random.Random(3), 100)
    with Store.open(str(tmp_path)) as store:
        assert store.append(evs[:60]).stored == 60
        within = store.append(evs[50:70] + evs[65:70])
        assert (within.stored, within.duplicates) == (10, 15)
    with Store.open(str(tmp_path)) as store:
        again = store.append(evs)
        assert (again.stored, again.duplicates) == (30, 70)
        ids = [identity(e) for e in store.iter_events()]
        assert len(ids) == len(set(ids)) == 100


def test_dedup_window_is_bounded_to_last_n_records_of_a_stream(tmp_path):
    evs = trades(random.Random(4), 50)
    with Store.open(str(tmp_path), dedup_window=10) as store:
        store.append(evs)
    with Store.open(str(tmp_path), dedup_window=10) as store:
        recent = store.append(evs[40:])
        old = store.append(evs[:1])
    assert (recent.stored, recent.duplicates) == (0, 10)
    assert old.stored == 1  # beyond the documented window: stored again (never dropped)


@pytest.mark.parametrize("seed", range(12))
def test_recovery_truncates_any_torn_tail_and_keeps_every_durable_record(tmp_path, seed):
    rng = random.Random(seed)
    evs = trades(rng, 40)
    with Store.open(str(tmp_path)) as store:
        store.append(evs)
    seg = _segments(str(tmp_path), TRADES)[-1]
    durable = os.path.getsize(seg)
    with open(seg, "ab") as f:
        f.write(
            rng.choice(
                [
                    b"",
                    rec.encode(b"x" * 40)[: rng.randint(1, 47)],
                    rng.randbytes(rng.randint(1, 64)),
                ]
            )
        )
    garbage = os.path.getsize(seg) - durable
    with Store.open(str(tmp_path)) as store:
        assert list(store.iter_events()) == evs
        dropped = sum(t.dropped_bytes for t in store.recovery.truncations)
        assert dropped == garbage
        assert os.path.getsize(seg) == durable
        assert store.append(trades(rng, 1, first_id=1000)).stored == 1


def test_recovery_reports_the_kind_of_torn_tail(tmp_path):
    with Store.open(str(tmp_path)) as store:
        store.append(trades(random.Random(5), 3))
    seg = _segments(str(tmp_path), TRADES)[-1]
    record = rec.encode(b"payload-bytes")
    with open(seg, "ab") as f:
        f.write(record[:-3])
    with Store.open(str(tmp_path)) as store:
        (cut,) = store.recovery.truncations
        assert (cut.tail, cut.dropped_bytes) == ("torn_payload", len(record) - 3)


def test_corruption_inside_a_sealed_segment_is_an_error_not_a_silent_gap(tmp_path):
    evs = trades(random.Random(6), 200)
    with Store.open(str(tmp_path), segment_bytes=2000) as store:
        for i in range(0, 200, 20):
            store.append(evs[i : i + 20])
    first = _segments(str(tmp_path), TRADES)[0]
    with open(first, "r+b") as f:
        f.seek(20)
        f.write(b"\xff\xff")
    with pytest.raises(CorruptRecord), Store.open(str(tmp_path), dedup_window=5) as store:
        list(store.iter_events())


def test_segments_rotate_by_size_and_retention_removes_only_consumed_sealed_ones(tmp_path):
    evs = trades(random.Random(7), 300)
    with Store.open(str(tmp_path), segment_bytes=8000) as store:
        for i in range(0, 300, 25):
            store.append(evs[i : i + 25])
        segs = _segments(str(tmp_path), TRADES)
        assert len(segs) > 3
        assert all(os.path.getsize(s) <= 8000 for s in segs)
        cut = store.wal._logs[TRADES].segments[2]
        removed = store.wal.remove_sealed(TRADES, consumed=cut, older_than_ns=None)
        assert removed == segs[:2]
        assert [e for _, e in store.wal.read_events(TRADES, cut)] == evs[cut:]
    with Store.open(str(tmp_path), segment_bytes=8000) as store:
        assert list(store.iter_events()) == evs[cut:]


def test_stream_names_survive_odd_symbols(tmp_path):
    evs = trades(random.Random(8), 3, symbol="BRK/B+x%")
    with Store.open(str(tmp_path)) as store:
        store.append(evs)
    with Store.open(str(tmp_path)) as store:
        assert store.streams() == [stream_of(evs[0])]
        assert list(store.iter_events()) == evs


def test_store_retention_removes_only_what_every_projection_consumed(tmp_path):
    evs = trades(random.Random(9), 400)
    with Store.open(str(tmp_path), segment_bytes=8000) as store:
        for i in range(0, 200, 25):
            store.append(evs[i : i + 25])
        assert store.apply_retention(2**62, max_age_ns=0, max_bytes=0) == []  # nothing projected
        store.refresh(checkpoints=False)
        for i in range(200, 400, 25):
            store.append(evs[i : i + 25])
        before = len(_segments(str(tmp_path), TRADES))
        removed = store.apply_retention(2**62, max_bytes=0)
        assert removed and len(_segments(str(tmp_path), TRADES)) == before - len(removed)
        first_kept = store.wal._logs[TRADES].segments[0]
        assert first_kept <= 200  # unprojected records are never removed
        count = store.query("SELECT count(*) FROM trades").rows[0][0]
        assert count == 400  # projected rows + the WAL tail


def test_a_second_writer_is_refused_but_readers_are_welcome(tmp_path):
    from mdc.store import StorageError, StoreLocked

    evs = trades(random.Random(10), 20)
    with Store.open(str(tmp_path)) as writer:
        writer.append(evs[:10])
        with pytest.raises(StoreLocked):
            Store.open(str(tmp_path))
        with Store.open(str(tmp_path), readonly=True) as reader:
            writer.append(evs[10:])
            assert list(reader.iter_events()) == evs[:10]  # what was durable when it opened
            with pytest.raises(StorageError, match="read-only"):
                reader.append(evs)
