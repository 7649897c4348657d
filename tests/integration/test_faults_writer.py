"""Storage faults at the writer's seam, on a real StorageWriterActor writing real files: EIO turns
appends into dead letters until healed; a slow fsync slows every acknowledgement until healed; a
writer without the seam refuses these faults with a typed error."""

import random
import time

import pytest
import ray

from actors.writer import StorageWriterActor
from chaos.faults.base import FaultContext, FaultSetupError
from chaos.faults.io_error import IOFault
from chaos.faults.slow_fsync import SlowFsync
from mdc.batching import EventBatch
from mdc.store import Store
from mdc.store.synth import trades

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("ray_runtime")]


@pytest.fixture
def writer(tmp_path):
    handle = StorageWriterActor.remote(str(tmp_path), True)
    ray.get(handle.ping.remote())
    yield handle
    ray.get(handle.close.remote())
    ray.kill(handle, no_restart=True)


class Feed:
    """Batches of fresh trades (consecutive ids), appended one at a time."""

    def __init__(self, writer) -> None:
        self.writer, self.rng, self.seq, self.next_id = writer, random.Random(11), 0, 1

    def append(self) -> tuple[tuple, float]:
        events = trades(self.rng, 20, first_id=self.next_id)
        self.seq, self.next_id = self.seq + 1, self.next_id + 20
        started = time.monotonic()
        ack = ray.get(self.writer.append.remote(EventBatch("test", self.seq, events, 0)))
        return ack, time.monotonic() - started


def test_io_error_sends_appends_to_the_dead_letter_queue_until_healed(writer):
    ctx = FaultContext(rng=random.Random(1), actors={"writer": writer})
    feed = Feed(writer)
    assert feed.append()[0][2] == 20
    fault = IOFault(op="fsync")

    record = fault.inject(ctx)
    assert record.detail == {"op": "fsync", "errno": "EIO", "mechanism": "seam"}
    (_, _, stored, _), _ = feed.append()
    stats = ray.get(writer.ping.remote())
    assert stored == 0 and stats["dead_lettered"] == 20
    assert stats["failures"]["storage_failure"] == 1
    assert stats["refusing writes"] == "[Errno 5] injected EIO in fsync"

    fault.heal(ctx)
    fault.heal(ctx)
    assert feed.append()[0][2] == 20
    stats = ray.get(writer.ping.remote())
    assert stats["stored"] == 40 and stats["refusing writes"] == ""


def test_batches_the_store_refused_are_stored_before_later_ones(writer, tmp_path):
    """Stored out of order, a book replayed in stored order would break: a batch that comes
    while refused ones wait in the dead letter queue goes there behind them, and once the store
    takes writes again they all go in, oldest first, before the next batch."""
    ctx = FaultContext(rng=random.Random(1), actors={"writer": writer})
    feed = Feed(writer)
    feed.append()
    fault = IOFault(op="fsync")
    fault.inject(ctx)
    assert [feed.append()[0][2] for _ in range(2)] == [0, 0]
    fault.heal(ctx)
    assert feed.append()[0][2] == 20
    assert ray.get(writer.ping.remote())["dlq_by_state"]["replayed"] == 2
    with Store.open(str(tmp_path), readonly=True) as store:
        (stream,) = store.streams()
        assert [e.trade_id for e in store.tail(stream, 1000)] == list(range(1, 81))


def test_slow_fsync_delays_acknowledgements_until_healed(writer):
    ctx = FaultContext(rng=random.Random(1), actors={"writer": writer})
    feed = Feed(writer)
    feed.append()
    fault = SlowFsync(delay_s=0.5)
    fault.inject(ctx)
    slow = [feed.append()[1] for _ in range(2)]
    fault.heal(ctx)
    fast = [feed.append()[1] for _ in range(2)]
    assert min(slow) >= 0.5, slow
    assert max(fast) < 0.4, fast
    assert ray.get(writer.ping.remote())["stored"] == 100


def test_a_writer_without_the_seam_refuses_seam_faults(tmp_path):
    plain = StorageWriterActor.remote(str(tmp_path), False)
    ctx = FaultContext(rng=random.Random(1), actors={"writer": plain})
    try:
        for fault in (IOFault(), SlowFsync()):
            with pytest.raises(FaultSetupError, match="writer_faults=True"):
                fault.inject(ctx)
            assert fault.record is None
    finally:
        ray.kill(plain, no_restart=True)
