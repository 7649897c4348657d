"""The writer stores each producer's batches in the producer's send order, on a real
StorageWriterActor writing real files, however the calls arrive (Ray runs an async actor's calls
concurrently) and across a writer restart with resends."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
import ray

from actors.writer import StorageWriterActor
from mdc.batching import EventBatch
from mdc.store import Store
from mdc.store.streams import Stream
from mdc.store.synth import trades

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("ray_runtime")]

STREAM = Stream("binance", "trades", "BTC-USDT")


def batches(n: int, per_batch: int = 10, life: int = 1) -> list[EventBatch]:
    events = trades(random.Random(5), n * per_batch, first_id=1_000)
    return [
        EventBatch("provider:binance", i, events[i * per_batch : (i + 1) * per_batch], 0, {}, life)
        for i in range(n)
    ]


def stored_ids(data_dir: str) -> list[int]:
    with Store.open(data_dir, readonly=True) as store:
        return [event.trade_id for _, event in store.wal.read_events(STREAM, 0)]


def start_writer(data_dir: str):
    handle = StorageWriterActor.remote(data_dir, False)
    ray.get(handle.ping.remote())
    return handle


def stop_writer(handle) -> None:
    ray.get(handle.close.remote())
    ray.kill(handle, no_restart=True)


def test_batches_arriving_in_reverse_are_stored_in_send_order(tmp_path):
    writer = start_writer(str(tmp_path))
    sent = batches(6)
    # Sent in reverse, all in flight at once: each waits for its predecessors.
    refs = [writer.append.remote(_stamp(b, acked_below=0)) for b in reversed(sent)]
    acks = ray.get(refs, timeout=30)
    stop_writer(writer)
    assert sorted(ack[1] for ack in acks) == list(range(6))
    assert sum(ack[2] for ack in acks) == 60
    expected = [e.trade_id for b in sent for e in b.events]
    assert stored_ids(str(tmp_path)) == expected


def test_a_restarted_writer_waits_for_the_oldest_unacknowledged_batch(tmp_path):
    sent = batches(5)
    first = start_writer(str(tmp_path))
    ray.get([first.append.remote(_stamp(b, acked_below=b.seq)) for b in sent[:2]], timeout=30)
    stop_writer(first)
    # A new writer: the producer resends 2..4 (0 and 1 were acknowledged); 4 and 3 come first.
    second = start_writer(str(tmp_path))
    refs = [second.append.remote(_stamp(b, acked_below=2)) for b in reversed(sent[2:])]
    ray.get(refs, timeout=30)
    stop_writer(second)
    assert stored_ids(str(tmp_path)) == [e.trade_id for b in sent for e in b.events]


def _stamp(batch: EventBatch, *, acked_below: int) -> EventBatch:
    return replace(batch, acked_below=acked_below)
