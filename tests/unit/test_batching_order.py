"""ProducerOrder: the writer hands each producer life's batches to the store in send order,
whatever order they arrive in, and never drops one."""

from __future__ import annotations

import random
from dataclasses import replace

from mdc.batching import Batcher, BatchPolicy, EventBatch, ProducerOrder, UnackedLedger
from mdc.store.synth import trades


def batch(seq: int, acked_below: int | None = 0, life: int = 1, name: str = "p") -> EventBatch:
    return EventBatch(name, seq, [], 0, incarnation=life, acked_below=acked_below)


def seqs(ready: list[tuple[EventBatch, str]]) -> list[int]:
    return [b.seq for b, _ in ready]


def test_batches_arriving_shuffled_leave_in_send_order_with_their_tokens():
    order: ProducerOrder[str] = ProducerOrder()
    arrival = list(range(50))
    random.Random(3).shuffle(arrival)
    out = []
    for seq in arrival:
        out += order.push(batch(seq), f"reply-{seq}")
    assert seqs(out) == list(range(50))
    assert [token for _, token in out] == [f"reply-{s}" for s in range(50)]


def test_lives_and_producers_are_ordered_apart():
    order: ProducerOrder[str] = ProducerOrder()
    assert order.push(batch(1, life=1), "a") == []
    # A restarted producer numbers from 0 again: its batches are not resends of the old life's.
    assert seqs(order.push(batch(0, life=2), "b")) == [0]
    assert seqs(order.push(batch(0, name="q"), "c")) == [0]
    assert seqs(order.push(batch(0, life=1), "d")) == [0, 1]


def test_a_restarted_writer_starts_at_the_oldest_unacknowledged_batch():
    """After a writer restart the producer resends batches 4..6 (0..3 were acknowledged by the
    old writer); the new writer meets batch 6 first and must wait for 4 and 5."""
    order: ProducerOrder[str] = ProducerOrder()
    assert order.push(batch(6, acked_below=4), "6") == []
    assert order.push(batch(5, acked_below=4), "5") == []
    assert seqs(order.push(batch(4, acked_below=4), "4")) == [4, 5, 6]


def test_a_resend_of_a_batch_already_handed_on_passes_at_once():
    order: ProducerOrder[str] = ProducerOrder()
    order.push(batch(0), "first")
    assert seqs(order.push(batch(0), "again")) == [0]  # the store deduplicates its events


def test_a_refused_batch_holds_back_its_successors_until_it_is_resent():
    order: ProducerOrder[str] = ProducerOrder()
    assert seqs(order.push(batch(0), "0")) == [0]
    order.rewind(batch(0))  # the store and the dead letter queue refused it
    assert order.push(batch(1, acked_below=0), "1") == []
    assert seqs(order.push(batch(0, acked_below=0), "0 again")) == [0, 1]


def test_acknowledgements_seen_later_release_batches_waiting_below_them():
    order: ProducerOrder[str] = ProducerOrder()
    assert order.push(batch(3, acked_below=2), "3") == []
    # Batch 2 was acknowledged (by the old writer) before this batch was sent.
    assert seqs(order.push(batch(4, acked_below=4), "4")) == [3, 4]


def test_unordered_one_offs_pass_at_once():
    order: ProducerOrder[str] = ProducerOrder()
    assert seqs(order.push(batch(7, acked_below=None), "status")) == [7]


def test_memory_is_bounded_holes_past_the_limit_are_skipped_and_counted():
    order: ProducerOrder[str] = ProducerOrder(limit=3, max_lives=2)
    for seq in (2, 3, 4):
        assert order.push(batch(seq), str(seq)) == []
    assert seqs(order.push(batch(5), "5")) == [2, 3, 4, 5]
    assert order.skipped == 1
    for life in range(2, 6):
        order.push(batch(0, life=life), "x")
    assert len(order.lives) == 2


def test_a_producer_stamps_the_oldest_unacknowledged_batch_on_each_send():
    """The protocol end to end in one process: the ledger's oldest batch is what a receiver
    meeting the producer first must wait for."""
    batcher = Batcher("p", BatchPolicy(max_events=5), incarnation=9)
    ledger = UnackedLedger(8)
    sent = []
    for i in range(4):
        batcher.add(trades(random.Random(i), 5, first_id=1 + 5 * i), i)
        taken = batcher.take(i)
        ledger.sent(taken)
        sent.append(replace(taken, acked_below=ledger.oldest()))
        if i == 1:
            ledger.acked(0)
    assert [b.acked_below for b in sent] == [0, 0, 1, 1]
    order: ProducerOrder[int] = ProducerOrder()
    out = []
    for b in reversed(sent[1:]):  # a restarted writer gets 3, 2, 1 (0 was acknowledged)
        out += order.push(b, b.seq)
    assert seqs(out) == [1, 2, 3]


def test_batches_handed_on_with_one_that_is_refused_are_blocked_behind_it():
    """Handed on together, 1 refused and 2 kept (a small dead letter still fits on a full disk)
    would store 2 before 1: 2 is blocked until 1 is handed on again."""
    order: ProducerOrder[str] = ProducerOrder()
    assert seqs(order.push(batch(2), "late")) == []
    assert seqs(order.push(batch(0), "a") + order.push(batch(1), "b")) == [0, 1, 2]
    assert not any(order.blocked(batch(s)) for s in (0, 1, 2))
    order.rewind(batch(1))
    assert [order.blocked(batch(s)) for s in (0, 1, 2)] == [False, False, True]
    assert seqs(order.push(batch(1), "resent")) == [1]
    assert not order.blocked(batch(2)) and not order.blocked(batch(0, acked_below=None, name="s"))
