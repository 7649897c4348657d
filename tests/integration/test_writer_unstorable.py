"""A real StorageWriterActor given a batch with one event the store cannot hold (a trade id beyond
64 bits): the rest is stored and acknowledged, the one goes to the dead letter queue with its
cause, and the good events sent again are duplicates (stored), not lost to a poisoned dedup."""

import random

import msgspec
import pytest
import ray

from actors.writer import StorageWriterActor
from mdc.batching import EventBatch
from mdc.dlq import DeadLetterQueue, Filter
from mdc.store import Store
from mdc.store.synth import trades

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("ray_runtime")]
HUGE = 10**40


def test_an_unstorable_event_is_dead_lettered_alone_and_the_batch_is_stored(tmp_path):
    evs = trades(random.Random(1), 20)
    bad = msgspec.structs.replace(evs[7], trade_id=HUGE)
    good = evs[:7] + evs[8:]
    writer = StorageWriterActor.remote(str(tmp_path))
    try:
        ack = ray.get(writer.append.remote(EventBatch("test", 1, [*evs[:7], bad, *evs[8:]], 0)))
        assert ack == ("test", 1, 19, 0)
        again = ray.get(writer.append.remote(EventBatch("test", 2, good, 0)))
        assert again == ("test", 2, 0, 19)
        stats = ray.get(writer.ping.remote())
        assert stats["failures"]["unstorable_event"] == 1
        assert stats["dlq_by_cause"]["unstorable_event"] == 1
    finally:
        ray.get(writer.close.remote())
        ray.kill(writer, no_restart=True)
    with DeadLetterQueue.open(str(tmp_path)) as dlq:
        (entry,) = dlq.list(Filter(cause="unstorable_event"))
        assert entry.decoded_events() == [bad]
        assert str(HUGE) in entry.error and "OverflowError" in entry.error
    with Store.open(str(tmp_path), readonly=True) as store:
        assert list(store.iter_events()) == good
