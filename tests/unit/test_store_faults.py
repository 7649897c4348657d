"""Injected ENOSPC / EIO / torn writes / slow fsync through the file-system seam: no acknowledged
loss, typed errors, the caller keeps its batch, and the same batch appends fine after healing."""

from __future__ import annotations

import errno
import os
import random

import pytest

from mdc.events import identity
from mdc.store import DiskFull, FaultyFS, IOFailure, StorageError, Store
from mdc.store.synth import book_stream, trades


def _sizes(data_dir: str) -> dict[str, int]:
    root = os.path.join(data_dir, "wal")
    return {
        os.path.join(d, n): os.path.getsize(os.path.join(root, d, n))
        for d in os.listdir(root)
        if "+" in d
        for n in os.listdir(os.path.join(root, d))
    }


@pytest.mark.parametrize(
    ("op", "err", "kind"),
    [
        ("write", errno.ENOSPC, DiskFull),
        ("write", errno.EIO, IOFailure),
        ("fsync", errno.EIO, IOFailure),
        ("fsync", errno.ENOSPC, DiskFull),
        ("open_append", errno.ENOSPC, DiskFull),
        ("fsync_dir", errno.EIO, IOFailure),
    ],
)
def test_failed_commit_acks_nothing_rolls_back_and_the_same_batch_succeeds_after_heal(
    tmp_path, op, err, kind
):
    fs = FaultyFS()
    rng = random.Random(1)
    durable = trades(rng, 50)
    batch = trades(rng, 40, first_id=1000) + book_stream(rng, 10)
    with Store.open(str(tmp_path), fs=fs) as store:
        store.append(durable)
        before = _sizes(str(tmp_path))
        acked = store.acked
        fs.fail(op, err, torn_bytes=777)
        with pytest.raises(kind) as info:
            store.append(batch)
        assert isinstance(info.value, StorageError)
        assert info.value.failed_tickets == (acked + 1,)
        assert store.acked == acked
        after = _sizes(str(tmp_path))
        assert {p: s for p, s in after.items() if p in before} == before
        assert all(s == 0 for p, s in after.items() if p not in before)
        assert list(store.iter_events()) == durable
        with pytest.raises(kind):
            store.append(batch)  # still broken: still refused, still nothing acknowledged
        fs.heal()
        result = store.append(batch)
        assert (result.stored, result.duplicates) == (len(batch), 0)
    with Store.open(str(tmp_path)) as store:
        stored = list(store.iter_events())
        assert sorted(map(identity, stored)) == sorted(map(identity, durable + batch))


def test_torn_write_then_failed_truncate_is_repaired_before_the_next_commit(tmp_path):
    fs = FaultyFS()
    evs = trades(random.Random(2), 30)
    with Store.open(str(tmp_path), fs=fs) as store:
        store.append(evs[:10])
        fs.fail("write", errno.EIO, times=1, torn_bytes=100)
        fs.fail("truncate", errno.EIO, times=1)
        with pytest.raises(IOFailure):
            store.append(evs[10:])
        assert store.append(evs[10:]).stored == 20
    with Store.open(str(tmp_path)) as store:
        assert list(store.iter_events()) == evs
        assert store.recovery.truncations == ()


def test_group_commit_failure_fails_every_pending_ticket_and_dedup_forgets_them(tmp_path):
    fs = FaultyFS()
    rng = random.Random(3)
    a, b = trades(rng, 20), trades(rng, 20, symbol="ETH-USDT")
    with Store.open(str(tmp_path), fs=fs) as store:
        ta = store.submit(a, now_ns=0)
        tb = store.submit(b + a[:5], now_ns=1)
        assert (tb.stored, tb.duplicates) == (20, 5)
        fs.fail("fsync", errno.EIO, times=1)
        with pytest.raises(IOFailure) as info:
            store.commit_if_due(now_ns=10**12)
        assert info.value.failed_tickets == (ta.number, tb.number)
        again = store.append(a + b)
        assert (again.stored, again.duplicates) == (40, 0)


def test_slow_fsync_delays_the_ack_but_loses_nothing(tmp_path):
    slept: list[float] = []
    fs = FaultyFS(sleep=slept.append)
    evs = trades(random.Random(4), 100)
    with Store.open(str(tmp_path), fs=fs) as store:
        fs.slow_fsync(0.25)
        seen_acked_during_fsync: list[int] = []
        fs.on_fsync = lambda: seen_acked_during_fsync.append(store.acked)
        ticket = store.submit(evs, now_ns=0)
        assert store.commit_if_due(now_ns=1) == []  # not due yet: within max_delay_ns
        assert store.commit_if_due(now_ns=10**9) == [ticket]
        assert seen_acked_during_fsync == [ticket.number - 1]  # not acked while fsync ran
        assert slept == [0.25]
        assert store.acked == ticket.number
    with Store.open(str(tmp_path)) as store:
        assert list(store.iter_events()) == evs


def test_commit_policy_bounds_pending_bytes(tmp_path):
    from mdc.store import CommitPolicy

    evs = trades(random.Random(5), 200)
    with Store.open(str(tmp_path), policy=CommitPolicy(max_delay_ns=10**12, max_bytes=5000)) as s:
        tickets = [s.submit(evs[i : i + 10], now_ns=i) for i in range(0, 200, 10)]
        assert s.wal.pending_bytes < 5000
        assert s.acked >= tickets[-1].number - 2  # at most two batches (< max_bytes) wait


def test_the_store_says_how_long_pending_batches_may_wait_for_their_commit(tmp_path):
    from mdc.store import CommitPolicy

    with Store.open(str(tmp_path), policy=CommitPolicy(max_delay_ns=2_000_000)) as store:
        assert store.commit_wait_ns(now_ns=5) == 0  # nothing pending
        store.submit(trades(random.Random(6), 3), now_ns=1_000_000)
        store.submit(trades(random.Random(7), 3, first_id=50), now_ns=1_500_000)
        assert store.commit_wait_ns(now_ns=1_500_000) == 1_500_000  # from the oldest's arrival
        assert store.commit_wait_ns(now_ns=3_000_000) == 0
        assert len(store.commit_if_due(now_ns=3_000_000)) == 2
        assert store.commit_wait_ns(now_ns=3_000_001) == 0


@pytest.mark.parametrize("torn_bytes", [5, 300, 2000, 3000])
def test_a_torn_group_commit_left_on_disk_is_cut_at_a_frame_boundary_on_reopen(
    tmp_path, torn_bytes
):
    fs = FaultyFS()
    rng = random.Random(6)
    durable = trades(rng, 10)
    first, second = trades(rng, 15, first_id=100), trades(rng, 15, first_id=200)
    with Store.open(str(tmp_path), fs=fs) as store:
        store.append(durable)
        size = sum(_sizes(str(tmp_path)).values())
        store.submit(first, now_ns=0)
        first_frame = store.wal.pending_bytes
        store.submit(second, now_ns=0)  # two frames of one stream in one commit
        assert 2000 < first_frame < 3000
        fs.fail("write", errno.EIO, times=1, torn_bytes=torn_bytes)
        fs.fail("truncate", errno.EIO, times=1)  # the torn bytes stay: as after a crash
        with pytest.raises(IOFailure):
            store.commit()
    whole = torn_bytes >= first_frame  # a complete (unacknowledged) frame survives whole
    with Store.open(str(tmp_path)) as store:
        (cut,) = store.recovery.truncations
        assert (cut.offset, cut.dropped_bytes) == (
            size + (first_frame if whole else 0),
            torn_bytes - (first_frame if whole else 0),
        )
        assert list(store.iter_events()) == durable + (first if whole else [])
        again = store.append(first + second)
        assert (again.stored, again.duplicates) == (30 - 15 * whole, 15 * whole)
