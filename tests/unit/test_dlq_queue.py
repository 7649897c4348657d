"""The DLQ core on real files: persistence, torn tails, disk faults, retry schedule, bounds."""

from __future__ import annotations

import errno
import os
import random
from decimal import Decimal

import pytest

from mdc.dlq import (
    BadFilter,
    DeadLetterQueue,
    DLQFull,
    DLQLocked,
    Filter,
    InvalidEntry,
    Limits,
    RetryPolicy,
    UnknownEntry,
)
from mdc.errors import IllegalTransition
from mdc.events import Trade
from mdc.store.errors import DiskFull, IOFailure
from mdc.store.fs import FaultyFS

T0 = 1_700_000_000_000_000_000
SEC = 1_000_000_000


def trade(n: int) -> Trade:
    return Trade("binance", "BTC-USDT", T0 + n, T0 + n, Decimal("100.5"), Decimal("0.01"), "buy", n)


def open_dlq(path, **kw) -> DeadLetterQueue:
    return DeadLetterQueue.open(str(path), rng=random.Random(7), **kw)


def log_path(path) -> str:
    return os.path.join(str(path), "dlq", "dlq.log")


def test_entries_survive_reopen_with_payload_and_state(tmp_path):
    with open_dlq(tmp_path) as dlq:
        a = dlq.add_events("storage_failure", "binance", [trade(1), trade(2)], "ENOSPC", T0)
        b = dlq.add_raw("parse_failure", "kraken", b"\xff{not json", "bad json", T0 + 1)
        dlq.mark_retried(a, False, "EIO again", T0 + 2)
    with open_dlq(tmp_path) as dlq:
        first, second = dlq.get(a), dlq.get(b)
        assert first.decoded_events() == [trade(1), trade(2)]
        assert (first.attempts, first.error, first.state) == (1, "EIO again", "pending")
        assert second.raw == b"\xff{not json" and second.kind == "raw"
        assert dlq.counts().by_cause["parse_failure"] == 1
        assert dlq.add_raw("parse_failure", "kraken", b"x", "e", T0) == b + 1


def test_torn_tail_is_truncated_on_open(tmp_path):
    with open_dlq(tmp_path) as dlq:
        dlq.add_events("storage_failure", "binance", [trade(1)], "e", T0)
        good = os.path.getsize(log_path(tmp_path))
        dlq.add_events("storage_failure", "binance", [trade(2)], "e", T0)
    with open(log_path(tmp_path), "r+b") as f:
        f.truncate(os.path.getsize(log_path(tmp_path)) - 3)
    with open_dlq(tmp_path) as dlq:
        assert [e.id for e in dlq.list()] == [1]
        assert dlq.journal.truncated_bytes > 0
    assert os.path.getsize(log_path(tmp_path)) == good


@pytest.mark.parametrize(
    ("op", "err", "kind"),
    [
        ("write", errno.ENOSPC, DiskFull),
        ("fsync", errno.EIO, IOFailure),
        ("write", errno.EIO, IOFailure),
    ],
)
def test_disk_fault_on_add_is_typed_and_leaves_nothing(tmp_path, op, err, kind):
    fs = FaultyFS()
    with open_dlq(tmp_path, fs=fs) as dlq:
        dlq.add_events("storage_failure", "binance", [trade(1)], "first", T0)
        size = os.path.getsize(log_path(tmp_path))
        fs.fail(op, err, torn_bytes=5)
        with pytest.raises(kind):
            dlq.add_events("storage_failure", "binance", [trade(2)], "second", T0)
        assert os.path.getsize(log_path(tmp_path)) == size
        assert len(dlq.list()) == 1
        fs.heal()
        new = dlq.add_events("storage_failure", "binance", [trade(3)], "third", T0)
    with open_dlq(tmp_path) as dlq:
        assert [e.id for e in dlq.list()] == [1, new]
        assert dlq.get(new).decoded_events() == [trade(3)]


def test_failed_rollback_is_repaired_before_the_next_append(tmp_path):
    fs = FaultyFS()
    with open_dlq(tmp_path, fs=fs) as dlq:
        dlq.add_events("storage_failure", "binance", [trade(1)], "e", T0)
        fs.fail("write", errno.EIO, torn_bytes=7)
        fs.fail("truncate", errno.EIO, times=1)
        with pytest.raises(IOFailure):
            dlq.add_events("storage_failure", "binance", [trade(2)], "e", T0)
        fs.heal()
        dlq.add_events("storage_failure", "binance", [trade(3)], "e", T0)
    with open_dlq(tmp_path) as dlq:
        assert [e.decoded_events()[0].trade_id for e in dlq.list()] == [1, 3]
        assert dlq.journal.truncated_bytes == 0


def test_retry_backoff_grows_with_full_jitter_then_parks(tmp_path):
    policy = RetryPolicy(base_ns=SEC, cap_ns=64 * SEC, max_attempts=5)
    with open_dlq(tmp_path, policy=policy) as dlq:
        entry_id = dlq.add_events("storage_failure", "binance", [trade(1)], "e", T0)
        now, waits = T0, []
        for attempt in range(1, 5):
            entry = dlq.get(entry_id)
            assert dlq.due(entry.next_attempt_ns - 1) == []
            now = entry.next_attempt_ns
            assert [e.id for e in dlq.due(now)] == [entry_id]
            entry = dlq.mark_retried(entry_id, False, f"fail {attempt}", now)
            waits.append(entry.next_attempt_ns - now)
            assert 0 <= waits[-1] <= policy.ceiling_ns(attempt)
        assert [policy.ceiling_ns(a) for a in range(1, 5)] == [2 * SEC, 4 * SEC, 8 * SEC, 16 * SEC]
        parked = dlq.mark_retried(entry_id, False, "fail 5", dlq.get(entry_id).next_attempt_ns)
        assert (parked.state, parked.attempts, parked.error) == ("parked", 5, "fail 5")
        assert dlq.due(T0 + 10**15) == []
        with pytest.raises(IllegalTransition):
            dlq.mark_retried(entry_id, True, "", T0)


def test_retry_schedule_is_deterministic_for_a_seed(tmp_path):
    def schedule(path) -> list[int]:
        with DeadLetterQueue.open(str(path), rng=random.Random(42)) as dlq:
            entry_id = dlq.add_events("storage_failure", "binance", [trade(1)], "e", T0)
            return [dlq.mark_retried(entry_id, False, "e", T0).next_attempt_ns for _ in range(3)]

    assert schedule(tmp_path / "a") == schedule(tmp_path / "b")
    assert len(set(schedule(tmp_path / "c"))) == 3


def test_successful_retry_marks_replayed(tmp_path):
    with open_dlq(tmp_path) as dlq:
        entry_id = dlq.add_events("backpressure_overflow", "binance", [trade(1)], "full", T0)
        got = []
        report = dlq.retry_due(got.extend, T0 + 10**15)
        assert report.replayed == [entry_id] and got == [trade(1)]
        assert dlq.get(entry_id).state == "replayed"


def test_bounds_raise_dlq_full_and_never_drop(tmp_path):
    with open_dlq(tmp_path, limits=Limits(max_entries=2, max_bytes=10_000)) as dlq:
        dlq.add_events("storage_failure", "binance", [trade(1)], "e", T0)
        dlq.add_events("storage_failure", "binance", [trade(2)], "e", T0)
        with pytest.raises(DLQFull, match="max 2"):
            dlq.add_events("storage_failure", "binance", [trade(3)], "e", T0)
        assert dlq.purge([1], T0) == 1
        dlq.add_events("storage_failure", "binance", [trade(3)], "e", T0)
    with (
        open_dlq(tmp_path, limits=Limits(max_bytes=10)) as dlq,
        pytest.raises(DLQFull, match="payload bytes"),
    ):
        dlq.add_raw("parse_failure", "binance", b"x" * 11, "e", T0)


def test_purge_compacts_and_ids_stay_monotonic(tmp_path):
    with open_dlq(tmp_path) as dlq:
        for n in range(5):
            dlq.add_events("storage_failure", "binance", [trade(n)], "e", T0 + n)
        before = os.path.getsize(log_path(tmp_path))
        assert dlq.purge(Filter(since=T0 + 3), T0) == 2
        assert os.path.getsize(log_path(tmp_path)) < before
    with open_dlq(tmp_path) as dlq:
        assert [e.id for e in dlq.list()] == [1, 2, 3]
        assert dlq.add_events("storage_failure", "binance", [trade(9)], "e", T0) == 6


def test_bad_input_gets_typed_errors(tmp_path):
    with open_dlq(tmp_path) as dlq:
        with pytest.raises(InvalidEntry, match="unknown DLQ cause"):
            dlq.add_raw("oops", "binance", b"x", "e", T0)
        with pytest.raises(InvalidEntry):
            dlq.add_events("storage_failure", "binance", [], "e", T0)
        with pytest.raises(UnknownEntry, match="42"):
            dlq.get(42)
        with pytest.raises(BadFilter, match="state"):
            Filter(state="lost")
        with pytest.raises(BadFilter, match="until"):
            Filter(since=5, until=5)
        with pytest.raises(DLQLocked):
            DeadLetterQueue.open(str(tmp_path))


def test_list_filters(tmp_path):
    with open_dlq(tmp_path) as dlq:
        dlq.add_events("storage_failure", "binance", [trade(1)], "e", T0)
        dlq.add_raw("parse_failure", "kraken", b"x", "e", T0 + 10)
        dlq.add_events("backpressure_overflow", "binance", [trade(2)], "e", T0 + 20)
        assert [e.id for e in dlq.list(Filter(venue="binance"))] == [1, 3]
        assert [e.id for e in dlq.list(Filter(cause="parse_failure"))] == [2]
        assert [e.id for e in dlq.list(Filter(since=T0 + 5, until=T0 + 20))] == [2]
        assert [e.id for e in dlq.list(limit=2)] == [1, 2]


def test_failed_compaction_keeps_the_purge_and_a_valid_log(tmp_path):
    fs = FaultyFS()
    with open_dlq(tmp_path, fs=fs) as dlq:
        for n in range(3):
            dlq.add_events("storage_failure", "binance", [trade(n)], "e", T0)
        fs.fail("rename", errno.EIO, times=1)
        assert dlq.purge([2], T0) == 1
        assert isinstance(dlq.last_compaction_error, IOFailure)
        dlq.add_events("storage_failure", "binance", [trade(7)], "e", T0)
    assert os.path.exists(log_path(tmp_path) + ".tmp")
    with open_dlq(tmp_path) as dlq:
        assert [e.id for e in dlq.list()] == [1, 3, 4]
    assert not os.path.exists(log_path(tmp_path) + ".tmp")


def test_open_compacts_state_changes(tmp_path):
    with open_dlq(tmp_path, policy=RetryPolicy(max_attempts=50)) as dlq:
        entry_id = dlq.add_events("storage_failure", "binance", [trade(1)], "e", T0)
        for n in range(30):
            dlq.mark_retried(entry_id, False, f"failure {n}", T0)
    grown = os.path.getsize(log_path(tmp_path))
    with open_dlq(tmp_path) as dlq:
        assert (dlq.get(entry_id).attempts, dlq.get(entry_id).error) == (30, "failure 29")
    assert os.path.getsize(log_path(tmp_path)) < grown / 5
