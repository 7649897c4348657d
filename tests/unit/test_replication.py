"""Replication core: a follower's log made from a primary's records holds the same records at
the same seqs whatever the delivery (repeats, overlaps, holes, damage); epochs fence a demoted
primary and cut what it wrote after the failover; lag is counted in events and seconds."""

from __future__ import annotations

import random

import pytest

from mdc.errors import CollectorError
from mdc.replication.apply import Applier, BadRecord
from mdc.replication.epochs import (
    EpochConflict,
    EpochStart,
    ReplicationState,
    Role,
    check_follower,
    check_primary,
    divergence,
)
from mdc.replication.lag import LagTracker
from mdc.store import Store
from mdc.store.synth import book_stream, trades


def _primary(path, batches: int = 6, seed: int = 1) -> Store:
    store = Store.open(str(path), segment_bytes=4096)
    rng = random.Random(seed)
    for i in range(batches):
        start = 1_700_000_000_000_000_000 + i * 10**9
        store.append(
            trades(rng, 40, first_id=1 + 40 * i, start_ns=start)
            + book_stream(rng, 30, start_ns=start)
        )
        store.commit()
    return store


def _records(store: Store, starts: dict | None = None) -> list[tuple[str, int, bytes]]:
    starts = starts or {}
    return [
        (stream.dirname, seq, frame)
        for stream in store.wal.streams()
        for seq, _, frame in store.wal.read_frames(stream, starts.get(stream, 0))
    ]


def _log(store: Store) -> dict:
    return {s: list(store.wal.read(s)) for s in store.wal.streams()}


def test_records_applied_in_any_repetition_give_the_primarys_log(tmp_path):
    primary = _primary(tmp_path / "p")
    records = _records(primary)
    with Store.open(str(tmp_path / "f"), segment_bytes=2048) as follower:
        applier = Applier(follower.wal)
        applier.apply(records[: len(records) // 2])
        applier.commit()
        assert applier.apply(records[: len(records) // 2]) == 0  # a resend after a reconnect
        applier.apply(records)
        ends = applier.commit()
        assert ends == primary.wal.positions()
        assert _log(follower) == _log(primary)
    with Store.open(str(tmp_path / "f")) as reopened:  # durable, and recovery agrees
        assert _log(reopened) == _log(primary)
    primary.close()


def test_a_record_partly_held_adds_only_its_new_events(tmp_path):
    primary = _primary(tmp_path / "p", batches=1)
    stream, seq, frame = _records(primary)[0]
    from mdc.store import records as rec

    items = rec.PAYLOAD_DECODER.decode(frame[rec.HEADER.size :])
    head = rec.encode(rec.encode_payload(items[:15]))
    with Store.open(str(tmp_path / "f")) as follower:
        applier = Applier(follower.wal)
        applier.apply([(stream, seq, head)])
        assert applier.apply([(stream, seq, frame)]) == len(items) - 15
        applier.commit()
        events = [e for _, e in follower.wal.read_events(follower.wal.streams()[0])]
        assert events == items
    primary.close()


def test_a_record_after_a_hole_starts_the_stream_there(tmp_path):
    primary = _primary(tmp_path / "p", batches=3)
    stream = next(s for s in primary.wal.streams() if s.family == "trades")
    later = [r for r in _records(primary) if r[0] == stream.dirname][1:]
    assert len(later) == 2
    with Store.open(str(tmp_path / "f")) as follower:
        applier = Applier(follower.wal)
        applier.apply(later)  # the first record is missing: retention on the primary
        applier.commit()
        assert follower.wal.firsts()[stream] == later[0][1]
        assert [s for s, _ in follower.wal.read(stream)] == [
            s for s, _ in primary.wal.read(stream, later[0][1])
        ]
    with Store.open(str(tmp_path / "f")) as reopened:
        assert reopened.wal.positions()[stream] == primary.wal.positions()[stream]
    primary.close()


@pytest.mark.parametrize(
    ("damage", "says"),
    [
        (lambda f: f[:-1], "the frame says"),
        (lambda f: f[:-1] + bytes([f[-1] ^ 1]), "CRC mismatch"),
        (lambda f: f[:3], "is no frame"),
    ],
)
def test_a_damaged_record_applies_nothing_of_its_chunk(tmp_path, damage, says):
    primary = _primary(tmp_path / "p", batches=2)
    records = _records(primary)
    bad = (*records[-1][:2], damage(records[-1][2]))
    with Store.open(str(tmp_path / "f")) as follower:
        applier = Applier(follower.wal)
        with pytest.raises(BadRecord, match=says):
            applier.apply([*records[:-1], bad])
        applier.commit()
        assert follower.wal.positions() == {}
    primary.close()


def test_a_record_of_an_unknown_stream_is_refused(tmp_path):
    with Store.open(str(tmp_path)) as follower, pytest.raises(BadRecord, match="no stream"):
        Applier(follower.wal).apply([("../../etc", 0, b"x" * 20)])


def test_cut_removes_records_from_a_seq_on_and_returns_them(tmp_path):
    store = _primary(tmp_path / "p", batches=6)
    stream = max(store.wal.streams(), key=lambda s: len(store.wal.segment_sizes(s)))
    assert len(store.wal.segment_sizes(stream)) > 1
    before = list(store.wal.read(stream))
    cut_at = len(before) // 3 + 1  # inside a record, segments after it
    frames = store.wal.cut(stream, cut_at)
    assert list(store.wal.read(stream)) == before[:cut_at]
    from mdc.store import records as rec

    removed = [i for f in frames for i in rec.PAYLOAD_DECODER.decode(f[rec.HEADER.size :])]
    events = [e for _, e in Store.open(str(tmp_path / "p"), readonly=True).wal.read_events(stream)]
    assert len(removed) == len(before) - cut_at
    assert len(events) == cut_at
    store.close()
    with Store.open(str(tmp_path / "p")) as reopened:
        assert reopened.wal.positions()[stream] == cut_at
        assert list(reopened.wal.read(stream)) == before[:cut_at]


def test_a_fresh_store_is_a_primary_at_epoch_1_and_promotion_starts_the_next(tmp_path):
    state = ReplicationState.load(str(tmp_path))
    assert (state.role, state.epoch) == (Role.PRIMARY, 1)
    with pytest.raises(EpochConflict, match="already the primary"):
        state.promoted({})
    follower = state.following("a:1", 3, (EpochStart(1, {}), EpochStart(3, {"s": 5})))
    follower.save(str(tmp_path))
    assert ReplicationState.load(str(tmp_path)) == follower
    promoted = follower.promoted({"s": 9})
    assert (promoted.role, promoted.epoch, promoted.history[-1]) == (
        Role.PRIMARY,
        4,
        EpochStart(4, {"s": 9}),
    )


def test_a_damaged_state_file_says_what_to_do(tmp_path):
    (tmp_path / "replication.json").write_text("{not json")
    with pytest.raises(CollectorError, match=r"damaged.*--fresh"):
        ReplicationState.load(str(tmp_path))


def test_fencing_refuses_the_older_epoch_on_both_sides():
    with pytest.raises(EpochConflict, match="epoch 1, older than this store's epoch 2"):
        check_primary(2, 1, "old:50051")
    check_primary(2, 2, "p:1")
    check_primary(2, 3, "p:1")
    assert "demoted" in check_follower(1, 2)
    assert check_follower(2, 2) is None


def test_a_demoted_primary_cuts_what_it_wrote_after_the_fork():
    old = ReplicationState.fresh()  # primary at epoch 1
    new_history = (EpochStart(1, {}), EpochStart(2, {"a": 10, "b": 4}))
    ends = {"a": 15, "b": 4, "c": 2}
    assert divergence(old, ends, new_history) == {"a": 10, "c": 0}
    assert divergence(old, {"a": 9}, new_history) == {}
    same = old.following("p", 2, new_history)
    assert divergence(same, {"a": 99}, new_history) == {}


def test_two_promotions_to_the_same_epoch_are_refused():
    mine = ReplicationState(Role.PRIMARY, 2, (EpochStart(1, {}), EpochStart(2, {"a": 3})))
    with pytest.raises(EpochConflict, match="same epoch"):
        divergence(mine, {"a": 5}, (EpochStart(1, {}), EpochStart(2, {"a": 4})))


def test_lag_counts_events_and_the_age_of_the_oldest_missing_record():
    lag = LagTracker()
    s = 1_000_000_000
    assert lag.report(0).heartbeat_age_s is None
    lag.applied({"a": 0})
    lag.heard({"a": 10}, sent_ns=1 * s, now_ns=1 * s)
    lag.heard({"a": 20}, sent_ns=2 * s, now_ns=2 * s)
    report = lag.report(3 * s)
    assert (report.events, report.seconds, report.heartbeat_age_s) == (20, 2.0, 1.0)
    lag.applied({"a": 10})
    assert (lag.report(3 * s).events, lag.report(3 * s).seconds) == (10, 1.0)
    lag.applied({"a": 20})
    assert (lag.report(9 * s).events, lag.report(9 * s).seconds) == (0, 0.0)
    assert lag.report(9 * s).heartbeat_age_s == 7.0


def test_a_hand_built_chunk_is_the_log_chunk_protobuf_makes():
    from mdc.v1 import replication_pb2 as pb
    from serve.replication.server import chunk_bytes

    records = [("binance+trades+BTC-USDT", 0, b"\x00" * 300), ("kraken+book+ETH-USD", 2**40, b"x")]
    ends = {"binance+trades+BTC-USDT": 7, "kraken+book+ETH-USD": 0}
    parsed = pb.LogChunk.FromString(chunk_bytes(3, records, ends, 1_700_000_000_123_456_789))
    expected = pb.LogChunk(
        epoch=3,
        records=[pb.Record(stream=s, seq=q, frame=f) for s, q, f in records],
        ends=ends,
        sent_ns=1_700_000_000_123_456_789,
    )
    assert parsed == expected
