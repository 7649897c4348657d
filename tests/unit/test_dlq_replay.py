"""Replaying DLQ entries into a real Store: exactly once, raw messages re-parsed, failures kept."""

from __future__ import annotations

import errno
import random
from decimal import Decimal

import pytest

from mdc.dlq import DeadLetterQueue, Filter, UnknownEntry
from mdc.dlq.sinks import store_sink
from mdc.events import Trade
from mdc.store import Store
from mdc.store.errors import DiskFull
from mdc.store.fs import FaultyFS

T0 = 1_700_000_000_000_000_000
GOOD_RAW = (
    b'{"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.001","q":"100",'
    b'"b":88,"a":50,"T":1672515782136,"m":true,"M":true}'
)
BAD_RAW = b'{"e":"trade","E":1672515782136,"s":"BNBBTC","p":"0.001"}'


def trade(n: int) -> Trade:
    return Trade("binance", "BTC-USDT", T0 + n, T0 + n, Decimal("1.5"), Decimal("2"), "sell", n)


def stored_trades(data_dir) -> list[Trade]:
    with Store.open(str(data_dir), readonly=True) as store:
        return list(store.iter_events(types=["trade"]))


@pytest.fixture
def dlq(tmp_path):
    with DeadLetterQueue.open(str(tmp_path), rng=random.Random(1)) as queue:
        yield queue


def test_double_replay_stores_each_event_once(tmp_path, dlq):
    first = dlq.add_events("storage_failure", "binance", [trade(1), trade(2)], "ENOSPC", T0)
    second = dlq.add_events("storage_failure", "binance", [trade(2), trade(3)], "ENOSPC", T0)
    with store_sink(str(tmp_path)) as sink:
        report = dlq.replay(Filter(), sink, T0 + 1)
    assert report.replayed == [first, second] and not report.failed
    with store_sink(str(tmp_path)) as sink:
        again = dlq.replay([first, second], sink, T0 + 2)
    assert again.replayed == [first, second]
    assert [t.trade_id for t in stored_trades(tmp_path)] == [1, 2, 3]
    assert {e.state for e in dlq.list()} == {"replayed"}


def test_filter_replay_skips_replayed_entries(dlq):
    entry_id = dlq.add_events("storage_failure", "binance", [trade(1)], "e", T0)
    got: list = []
    dlq.replay(Filter(), got.extend, T0)
    assert dlq.replay(Filter(), got.extend, T0).replayed == []
    assert dlq.replay(Filter(state="replayed"), got.extend, T0).replayed == [entry_id]
    assert got == [trade(1), trade(1)]


def test_malformed_raw_stays_with_new_error_and_valid_raw_replays(tmp_path, dlq):
    bad = dlq.add_raw("parse_failure", "binance", BAD_RAW, "first error", T0)
    good = dlq.add_raw("parse_failure", "binance", GOOD_RAW, "parser bug, since fixed", T0)
    with store_sink(str(tmp_path)) as sink:
        report = dlq.replay(Filter(cause="parse_failure"), sink, T0 + 5)
    assert report.replayed == [good]
    assert "missing required field `t`" in report.failed[bad]
    kept = dlq.get(bad)
    assert (kept.state, kept.raw) == ("pending", BAD_RAW)
    assert "missing required field `t`" in kept.error
    [stored] = stored_trades(tmp_path)
    assert (stored.trade_id, stored.symbol, stored.ts_recv) == (12345, "BNB-BTC", T0)


def test_unknown_venue_of_a_raw_entry_is_recorded_not_raised(dlq):
    entry_id = dlq.add_raw("parse_failure", "nosuchvenue", b"{}", "e", T0)
    report = dlq.replay([entry_id], lambda events: None, T0)
    assert "unknown venue 'nosuchvenue'" in report.failed[entry_id]


def test_replay_of_unknown_id_changes_nothing(dlq):
    entry_id = dlq.add_events("storage_failure", "binance", [trade(1)], "e", T0)
    with pytest.raises(UnknownEntry):
        dlq.replay([entry_id, 99], lambda events: None, T0)
    assert dlq.get(entry_id).state == "pending"


def test_disk_full_batch_goes_to_dlq_then_retry_after_heal_stores_exactly_once(tmp_path, dlq):
    fs = FaultyFS()
    batches = [[trade(n), trade(n + 1)] for n in range(0, 10, 2)]
    with Store.open(str(tmp_path), fs=fs) as store:
        for i, batch in enumerate(batches):
            if i == 2:
                fs.fail("fsync", errno.ENOSPC)
            try:
                store.append(batch)
            except DiskFull as exc:
                dlq.add_events("storage_failure", "binance", batch, str(exc), T0 + i)
        assert dlq.counts().by_cause["storage_failure"] == 3
        assert dlq.retry_due(store.append, T0 + 10**15).failed.keys() == {1, 2, 3}
        fs.heal()
        store.append(batches[1])
        later = max(e.next_attempt_ns for e in dlq.list())
        assert dlq.retry_due(store.append, later).replayed == [1, 2, 3]
    assert [t.trade_id for t in stored_trades(tmp_path)] == list(range(10))
