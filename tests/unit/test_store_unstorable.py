"""An event the store cannot encode (a trade id beyond 64 bits) is refused alone, with its cause;
the rest of its batch is stored, and no identity enters the dedup window before it is durable."""

from __future__ import annotations

import errno
import random

import msgspec
import pytest

from mdc.dlq import DeadLetterQueue
from mdc.events import Trade, identity
from mdc.store import FaultyFS, IOFailure, StorageError, Store, UnstorableEvent
from mdc.store.synth import trades

HUGE = 10**40
T0 = 1_700_000_000_000_000_000


def _huge(event: Trade) -> Trade:
    return msgspec.structs.replace(event, trade_id=HUGE)


def test_an_id_beyond_64_bits_is_refused_alone_and_the_rest_of_its_batch_is_stored(tmp_path):
    evs = trades(random.Random(1), 20)
    bad = _huge(evs[7])
    good = evs[:7] + evs[8:]
    with Store.open(str(tmp_path)) as store:
        with pytest.raises(UnstorableEvent) as info:
            store.append([*evs[:7], bad, *evs[8:]])
        assert isinstance(info.value, StorageError)
        (refusal,) = info.value.refused
        assert refusal.event is bad and "OverflowError" in refusal.reason
        assert str(HUGE) in str(info.value)  # the message names the event
        assert (info.value.stored, info.value.duplicates) == (19, 0)
        assert list(store.iter_events()) == good
        with pytest.raises(UnstorableEvent) as again:
            store.append([*evs[:7], bad, *evs[8:]])  # a resend: nothing twice, bad refused again
        assert (again.value.stored, again.value.duplicates) == (0, 19)
    with Store.open(str(tmp_path)) as store:
        assert list(store.iter_events()) == good


def test_a_refusal_in_one_stream_leaves_the_other_streams_of_the_batch_alone(tmp_path):
    rng = random.Random(2)
    btc, eth = trades(rng, 10), trades(rng, 10, symbol="ETH-USDT")
    with Store.open(str(tmp_path)) as store:
        ticket = store.submit([*btc, _huge(eth[0]), *eth[1:]], now_ns=0)
        assert [r.event.trade_id for r in ticket.refused] == [HUGE]
        assert (ticket.stored, ticket.duplicates) == (19, 0)
        store.commit()
        assert sorted(map(identity, store.iter_events())) == sorted(map(identity, btc + eth[1:]))


def test_a_batch_rolled_back_by_a_failed_fsync_is_not_a_duplicate_when_sent_again(tmp_path):
    fs = FaultyFS()
    rng = random.Random(3)
    btc, eth = trades(rng, 20), trades(rng, 20, symbol="ETH-USDT")
    good = btc + eth[:5] + eth[6:]
    with Store.open(str(tmp_path), fs=fs) as store:
        ticket = store.submit(btc + eth[:5] + [_huge(eth[5])] + eth[6:], now_ns=0)
        assert len(ticket.refused) == 1
        fs.fail("fsync", errno.EIO, times=1)
        with pytest.raises(IOFailure) as info:
            store.commit()
        assert info.value.failed_tickets == (ticket.number,)
        assert list(store.iter_events()) == []
        result = store.append(good)  # the rolled-back identities do not block the resend
        assert (result.stored, result.duplicates) == (len(good), 0)
    with Store.open(str(tmp_path)) as store:
        assert sorted(map(identity, store.iter_events())) == sorted(map(identity, good))


def test_the_dead_letter_queue_keeps_an_unstorable_event_exactly_and_replays_the_rest(tmp_path):
    evs = trades(random.Random(4), 3)
    kept = [evs[0], _huge(evs[1]), evs[2]]
    with DeadLetterQueue.open(str(tmp_path)) as dlq:
        entry = dlq.add_events("unstorable_event", "binance", kept, "id too large", T0)
    with DeadLetterQueue.open(str(tmp_path)) as dlq, Store.open(str(tmp_path)) as store:
        assert dlq.get(entry).decoded_events() == kept
        report = dlq.replay([entry], store.append, T0 + 1)
        assert "cannot be stored" in report.failed[entry]  # still pending, with the cause
        assert dlq.get(entry).state == "pending"
        assert list(store.iter_events()) == [evs[0], evs[2]]
