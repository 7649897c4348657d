"""Restart policy and the producer-side batch ledger (pure logic, no Ray)."""

import random
from decimal import Decimal

import pytest

from mdc.batching import Batcher, BatchPolicy, UnackedLedger
from mdc.errors import ConfigError
from mdc.events import Trade
from mdc.supervision import Escalate, Restart, RestartPolicy, RestartTracker


def test_restarts_back_off_then_escalate_within_the_window():
    policy = RestartPolicy(max_restarts=3, window_s=10, backoff_initial_s=1, backoff_max_s=3)
    tracker = RestartTracker(policy, random.Random(1))
    decisions = [tracker.on_failure(t) for t in (0.0, 1.0, 2.0)]
    assert [d.attempt for d in decisions] == [1, 2, 3]
    ceilings = [1, 2, 3]  # doubling, capped at backoff_max_s
    assert all(c / 2 <= d.delay_s <= c for d, c in zip(decisions, ceilings, strict=True))
    assert tracker.on_failure(3.0) == Escalate(3, 10)


def test_failures_older_than_the_window_are_forgotten():
    tracker = RestartTracker(RestartPolicy(max_restarts=2, window_s=5), random.Random(2))
    assert isinstance(tracker.on_failure(0.0), Restart)
    assert isinstance(tracker.on_failure(1.0), Restart)
    assert isinstance(tracker.on_failure(2.0), Escalate)
    assert isinstance(tracker.on_failure(7.5), Restart)  # the first two have left the window
    assert tracker.total == 3


@pytest.mark.parametrize("bad", [{"max_restarts": -1}, {"window_s": 0}, {"ping_timeout_s": 0}])
def test_bad_policies_are_refused(bad):
    with pytest.raises(ConfigError):
        RestartPolicy(**bad)


def trade(i: int) -> Trade:
    return Trade("binance", "BTC-USDT", i, i, Decimal(1), Decimal(1), "buy", i)


def test_batches_are_due_by_count_or_by_age():
    batcher = Batcher("p", BatchPolicy(max_events=3, max_delay_ms=5))
    batcher.add([trade(1)], now_ns=0)
    assert not batcher.due(4_000_000)
    assert batcher.due(5_000_000)
    batcher.add([trade(2), trade(3)], now_ns=1)
    assert batcher.due(1)
    first = batcher.take(2)
    assert (first.seq, [e.trade_id for e in first.events]) == (0, [1, 2, 3])
    assert batcher.take(3) is None and not batcher.due(10**12)
    batcher.add([trade(4)], now_ns=9)
    assert batcher.take(10).seq == 1


def test_ledger_keeps_unacknowledged_batches_in_order_and_bounded():
    batcher = Batcher("p", BatchPolicy(max_events=1))
    ledger = UnackedLedger(limit=2)
    batches = []
    for i in range(2):
        batcher.add([trade(i)], i)
        batches.append(batcher.take(i))
        ledger.sent(batches[-1])
    assert ledger.full
    ledger.acked(0)
    assert not ledger.full and ledger.to_resend() == [batches[1]]
    ledger.acked(0)  # a second ack of the same batch is harmless
    assert len(ledger) == 1


def batch(seq: int, incarnation: int = 1):
    from mdc.batching import EventBatch

    return EventBatch("provider:binance", seq, [trade(seq)], 0, incarnation=incarnation)


def test_in_order_reassembles_and_drops_stale_incarnations():
    from mdc.batching import InOrder

    order = InOrder(limit=3)
    assert order.push(batch(1)) == []
    assert [b.seq for b in order.push(batch(0))] == [0, 1]
    assert order.push(batch(1)) == []  # a duplicate
    assert [b.seq for b in order.push(batch(0, incarnation=2))] == [0]  # a restarted producer
    assert order.push(batch(5, incarnation=1)) == []  # the dead incarnation's late batch
    for seq in (2, 3, 4):
        assert order.push(batch(seq, incarnation=2)) == []
    assert not order.skipped
    released = order.push(batch(5, incarnation=2))  # batch 1 is taken as lost past the limit
    assert order.skipped and [b.seq for b in released] == [2, 3, 4, 5]
