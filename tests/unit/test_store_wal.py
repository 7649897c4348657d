"""WAL: durability format, recovery of torn tails, dedup across restarts, rotation, retention."""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mdc.events import (
    Bar,
    BookDelta,
    BookSnapshot,
    Gap,
    Quote,
    Status,
    Trade,
    identity,
    to_msgpack,
)
from mdc.store import Store
from mdc.store import records as rec
from mdc.store.dedup import event_key, identity_keys
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


def test_corruption_inside_a_sealed_segment_is_reported_not_a_silent_gap(tmp_path):
    evs = trades(random.Random(6), 200)
    with Store.open(str(tmp_path), segment_bytes=2000) as store:
        for i in range(0, 200, 20):
            store.append(evs[i : i + 20])
    first = _segments(str(tmp_path), TRADES)[0]
    with open(first, "r+b") as f:
        f.seek(20)
        f.write(b"\xff\xff")
    with Store.open(str(tmp_path), dedup_window=5) as store:
        assert list(store.iter_events()) == evs[20:]  # readable around the damage
        (problem,) = store.problems()
        assert f"{first} bytes 0-" in problem and "20 record(s) lost at seq 0" in problem


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


# -- frames: one record per batch and stream --------------------------------------------------


def test_a_torn_batch_frame_is_dropped_whole_never_half_applied(tmp_path):
    rng = random.Random(11)
    durable, torn = trades(rng, 30), trades(rng, 40, first_id=1000)
    with Store.open(str(tmp_path)) as store:
        store.append(durable)
        (seg,) = _segments(str(tmp_path), TRADES)
        size = os.path.getsize(seg)
        store.append(torn)
    full = os.path.getsize(seg)
    for cut in sorted({size + 1, size + 8, size + 9, full - 1, rng.randint(size + 1, full - 1)}):
        os.truncate(seg, cut)
        with Store.open(str(tmp_path)) as store:
            assert list(store.iter_events()) == durable
            (trunc,) = store.recovery.truncations
            assert (trunc.offset, trunc.dropped_bytes) == (size, cut - size)
            assert store.recovery.records_scanned == len(durable)
            assert store.append(torn).stored == len(torn)  # not half-present: all of it is new
        os.truncate(seg, size)


def test_a_flipped_byte_in_the_last_frame_cuts_that_whole_batch(tmp_path):
    rng = random.Random(12)
    evs = trades(rng, 50)
    with Store.open(str(tmp_path)) as store:
        store.append(evs[:20])
        (seg,) = _segments(str(tmp_path), TRADES)
        size = os.path.getsize(seg)
        store.append(evs[20:])
    with open(seg, "r+b") as f:
        f.seek(rng.randint(size + 8, os.path.getsize(seg) - 1))
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0x5A]))
    with Store.open(str(tmp_path)) as store:
        (cut,) = store.recovery.truncations
        assert (cut.tail, cut.offset) == ("bad_crc", size)
        assert list(store.iter_events()) == evs[:20]


def test_a_crc_valid_record_that_is_not_a_frame_is_cut_as_bad_frame(tmp_path):
    with Store.open(str(tmp_path)) as store:
        store.append(trades(random.Random(13), 5))
    seg = _segments(str(tmp_path), TRADES)[-1]
    bogus = rec.encode(b"\xa5hello")  # a msgpack string, not an array of events
    with open(seg, "ab") as f:
        f.write(bogus)
    with Store.open(str(tmp_path)) as store:
        (cut,) = store.recovery.truncations
        assert (cut.tail, cut.dropped_bytes) == ("bad_frame", len(bogus))
        assert len(list(store.iter_events())) == 5


def test_reads_slice_frames_by_seq_across_segments(tmp_path):
    rng = random.Random(14)
    evs = trades(rng, 400)
    with Store.open(str(tmp_path), segment_bytes=6000) as store:
        i = 0
        while i < len(evs):
            n = rng.randint(1, 40)
            store.append(evs[i : i + n])
            i += n
        assert len(_segments(str(tmp_path), TRADES)) > 3
        for _ in range(30):
            start = rng.randint(0, 400)
            stop = rng.randint(start, 420)
            got = list(store.wal.read_events(TRADES, start, stop))
            assert got == list(enumerate(evs))[start:stop]
            raw = list(store.wal.read(TRADES, start, stop))
            assert raw == [(seq, to_msgpack(e)) for seq, e in got]
        assert [e.trade_id for e in store.tail(TRADES, 7)] == [e.trade_id for e in evs[-7:]]


def _forgotten(store: Store, evs: list[Trade]) -> list[Trade]:
    """Append `evs` again as one batch; the events the window did not remember get stored."""
    end = store.wal.positions()[TRADES]
    result = store.append(evs)
    stored = [e for _, e in store.wal.read_events(TRADES, end)]
    assert result.stored == len(stored)
    return stored


@pytest.mark.parametrize("seed", range(4))
def test_dedup_window_remembers_the_same_positions_before_and_after_restart(tmp_path, seed):
    rng = random.Random(seed)
    window, evs = 7, trades(rng, 60)
    live, copy = str(tmp_path / "live"), str(tmp_path / "copy")
    with Store.open(live, dedup_window=window) as store:
        i = 0
        while i < len(evs):
            n = rng.randint(1, 12)
            store.append(evs[i : i + n])
            i += n
        shutil.copytree(live, copy)
        oldest = len(evs) // window * window - window  # positions [oldest, end) are remembered
        assert _forgotten(store, evs) == evs[:oldest]
    with Store.open(copy, dedup_window=window) as store:
        assert _forgotten(store, evs) == evs[:oldest]


# -- dedup keys are identity() in disguise --------------------------------------------------------

_IDS = st.none() | st.integers(0, 3)
_DEC = st.sampled_from([Decimal("1"), Decimal("1.0"), Decimal("2.5")])
_TS = st.integers(0, 2)
_SIDE = st.sampled_from(["bid", "ask"])
_LEVELS = st.lists(st.tuples(_DEC, _DEC), max_size=2).map(tuple)


def _event_strategy(venue: str, symbol: str) -> st.SearchStrategy:
    head = {"venue": st.just(venue), "symbol": st.just(symbol), "ts_event": _TS, "ts_recv": _TS}
    return st.one_of(
        st.builds(
            Trade, **head, price=_DEC, size=_DEC, side=st.sampled_from(["buy", "sell"]),
            trade_id=_IDS, exchange=st.sampled_from([None, "", "agg", "X"]),
            aggregate=st.booleans(), conditions=st.sampled_from([(), ("@",)]),
        ),
        st.builds(
            Quote, **head, bid_price=st.none() | _DEC, bid_size=_DEC, ask_price=_DEC,
            ask_size=st.none() | _DEC, update_id=_IDS,
        ),
        st.builds(BookSnapshot, **head, bids=_LEVELS, asks=_LEVELS, update_id=_IDS),
        st.builds(
            BookDelta, **head, bids=_LEVELS, asks=_LEVELS, first_update_id=_IDS,
            last_update_id=_IDS, checksum=st.none() | st.integers(0, 1),
        ),
        st.builds(
            Bar, **head, open=_DEC, high=_DEC, low=_DEC, close=_DEC, volume=_DEC,
            interval_s=st.sampled_from([60, 3600]),
        ),
        st.builds(
            Gap, **head, stream=st.sampled_from(["trades", "book", "quotes", "connection"]),
            reason=st.sampled_from(["a", "b"]), from_id=_IDS,
        ),
        st.builds(Status, **head, state=st.sampled_from(["connected", "failed"])),
    )  # fmt: skip


def _assert_same_partition(keys: list, ids: list[bytes]) -> None:
    for i in range(len(ids)):
        for j in range(len(ids)):
            assert (keys[i] == keys[j]) == (ids[i] == ids[j]), (keys[i], keys[j])


@settings(max_examples=300, deadline=None)
@given(st.lists(_event_strategy("binance", "BTC-USDT"), max_size=25))
def test_dedup_keys_match_identity_within_every_stream_for_every_event_type(evs):
    by_stream: dict[Stream, list] = {}
    for e in evs:
        by_stream.setdefault(stream_of(e), []).append(e)
    for group in by_stream.values():
        ids = [identity(e) for e in group]
        _assert_same_partition(identity_keys(group), ids)
        assert identity_keys(group) == [event_key(e) for e in group]
        for kind in {type(e) for e in group}:  # the batch paths for one-type groups
            same = [e for e in group if type(e) is kind]
            assert identity_keys(same, kind) == [event_key(e) for e in same]


@settings(max_examples=40, deadline=None)
@given(st.lists(_event_strategy("kraken", "ETH-USD"), max_size=25))
def test_the_store_keeps_exactly_one_event_per_identity(evs):
    with tempfile.TemporaryDirectory() as data_dir:
        with Store.open(data_dir) as store:
            first = store.append(evs)
            assert first.stored == len(set(map(identity, evs)))
            assert store.append(evs).stored == 0
        with Store.open(data_dir) as store:
            assert store.append(list(reversed(evs))).stored == 0
            assert sorted(map(identity, store.iter_events())) == sorted(set(map(identity, evs)))
