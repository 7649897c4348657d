"""The serving app's copy of the live vectors (LatestVectors, on an injected clock) and
StoreFeatureSource following a real event store directory written with synthetic events."""

from __future__ import annotations

import os
import threading

import pytest

from actors.waiting import wait_until_sync
from mdc.features import FeatureConfig, FeatureTracker, FeatureVector
from mdc.features.board import LiveVector
from mdc.store import Store
from mdc.timefmt import NS
from models.synthetic import synthetic_events
from serve.features_source import LatestVectors, StoreFeatureSource

VENUE, BTC, ETH = "binance", "BTC-USDT", "ETH-USDT"


class FakeClock:
    """Seconds that move only when the test says so (safe to read from the follower thread)."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def live(venue, symbol, mid, ts_recv=1):
    return LiveVector(FeatureVector(venue, symbol, ts_recv, {"mid": mid}), ts_recv)


def two_venues(clock):
    """A copy holding binance BTC (mid 1.0) and kraken BTC (mid 7.0), both heard now."""
    latest = LatestVectors(clock)
    latest.apply(VENUE, [live(VENUE, BTC, 1.0)])
    latest.apply("kraken", [live("kraken", BTC, 7.0)])
    return latest


# -- LatestVectors -------------------------------------------------------------------------


def test_a_fresh_copy_has_age_zero_and_ages_with_the_clock():
    clock = FakeClock()
    latest = LatestVectors(clock)
    latest.apply(VENUE, [live(VENUE, BTC, 1.0)])
    found = latest.lookup(VENUE, BTC)
    assert found.live == live(VENUE, BTC, 1.0) and found.age_s == 0 and found.problem is None
    clock.advance(2.5)
    assert latest.lookup(VENUE, BTC).age_s == pytest.approx(2.5)
    assert latest.lookup(VENUE, ETH) is None and latest.lookup("kraken", BTC) is None


def test_an_empty_apply_confirms_the_venue_without_changing_vectors():
    clock = FakeClock()
    latest = two_venues(clock)
    clock.advance(3.0)
    latest.apply(VENUE, [])
    assert latest.lookup(VENUE, BTC).age_s == 0
    assert latest.lookup(VENUE, BTC).live.vector.values == {"mid": 1.0}
    assert latest.lookup("kraken", BTC).age_s == pytest.approx(3.0)  # only that venue


def test_a_failure_keeps_the_vectors_and_a_later_answer_clears_it():
    clock = FakeClock()
    latest = two_venues(clock)
    clock.advance(1.0)
    latest.fail(VENUE, "actor gone")
    found = latest.lookup(VENUE, BTC)
    assert found.problem == "actor gone" and found.live.vector.values == {"mid": 1.0}
    assert found.age_s == pytest.approx(1.0)
    assert latest.lookup("kraken", BTC).problem is None
    clock.advance(1.0)
    assert latest.lookup(VENUE, BTC).age_s == pytest.approx(2.0)
    latest.apply(VENUE, [live(VENUE, BTC, 2.0)])
    found = latest.lookup(VENUE, BTC)
    assert found.problem is None and found.age_s == 0 and found.live.vector.values == {"mid": 2.0}


def test_failing_every_venue_marks_each_one():
    latest = two_venues(FakeClock())
    latest.fail(None, "store unreadable")
    assert latest.lookup(VENUE, BTC).problem == "store unreadable"
    assert latest.lookup("kraken", BTC).problem == "store unreadable"


def test_apply_for_every_venue_confirms_them_all():
    clock = FakeClock()
    latest = two_venues(clock)
    clock.advance(4.0)
    latest.fail(None, "store unreadable")
    latest.apply(None, [live(VENUE, ETH, 3.0)])
    for venue, symbol in [(VENUE, BTC), (VENUE, ETH), ("kraken", BTC)]:
        found = latest.lookup(venue, symbol)
        assert found.age_s == 0 and found.problem is None, (venue, symbol)
    assert latest.venues() == {VENUE, "kraken"}


def test_replace_swaps_one_venues_vectors_only():
    clock = FakeClock()
    latest = LatestVectors(clock)
    latest.apply(VENUE, [live(VENUE, BTC, 1.0), live(VENUE, ETH, 2.0)])
    latest.apply("kraken", [live("kraken", BTC, 7.0)])
    latest.fail(VENUE, "restarting")
    clock.advance(3.0)
    latest.replace(VENUE, [live(VENUE, ETH, 5.0)])
    assert latest.lookup(VENUE, BTC) is None
    fresh = latest.lookup(VENUE, ETH)
    assert fresh.live.vector.values == {"mid": 5.0} and fresh.age_s == 0 and fresh.problem is None
    assert latest.lookup("kraken", BTC).live.vector.values == {"mid": 7.0}
    assert latest.lookup("kraken", BTC).age_s == 3.0
    assert latest.instruments() == [(VENUE, ETH), ("kraken", BTC)]


def test_instruments_are_sorted():
    latest = LatestVectors(FakeClock())
    latest.apply("kraken", [live("kraken", "XBT-USD", 1.0), live("kraken", "ETH-USD", 1.0)])
    latest.apply(VENUE, [live(VENUE, ETH, 1.0), live(VENUE, BTC, 1.0)])
    assert latest.instruments() == [
        (VENUE, BTC),
        (VENUE, ETH),
        ("kraken", "ETH-USD"),
        ("kraken", "XBT-USD"),
    ]


# -- StoreFeatureSource --------------------------------------------------------------------


SHORT = FeatureConfig.from_entries(
    [
        {"name": "v", "type": "VWAP", "windows": ["1s", "5s"]},
        {"name": "f", "type": "OrderFlow", "windows": ["1s", "5s"]},
        {"name": "s", "type": "SpreadStatistics", "windows": ["5s"]},
        {"name": "m", "type": "Microprice"},
        {"name": "r", "type": "RealizedVolatility", "windows": ["5s"]},
    ]
)
"""Windows shorter than LOOKBACK_NS, so the copy's windowed features are known."""
LOOKBACK_NS = 10 * NS
"""Shorter than the recordings: every stream starts at the cutoff, however that is chosen."""


@pytest.fixture(scope="module")
def events():
    return list(synthetic_events(seed=5, seconds=30))


def write_store(path, events):
    with Store.open(str(path)) as store:
        store.append(events)
    return str(path)


def store_source(data_dir, **kw):
    return StoreFeatureSource(data_dir, SHORT, lookback_ns=LOOKBACK_NS, **kw)


def newest_ts_recv(data_dir) -> int:
    with Store.open(data_dir, readonly=True) as store:
        return max(e.ts_recv for s in store.streams() for e in store.tail(s, 1))


def expected_tracker(data_dir, start_ns, config=SHORT) -> FeatureTracker:
    """The store's events from `start_ns` on, fed to a FeatureTracker whose streams start then."""
    tracker = FeatureTracker(config, observed_from_ns=start_ns)
    with Store.open(data_dir, readonly=True) as store:
        for event in store.iter_events(start_ns=start_ns):
            tracker.on_event(event)
    return tracker


def assert_copy_equals(source, tracker, events):
    assert source.instruments() == tracker.instruments() == [(VENUE, BTC), (VENUE, ETH)]
    for venue, symbol in tracker.instruments():
        found = source.lookup(venue, symbol)
        expected = tracker.vector(venue, symbol)
        assert found.live.vector.t_ns == expected.t_ns
        assert found.live.vector.values == pytest.approx(expected.values)
        assert found.live.vector.values["vwap_5s"] is not None  # warmed up: a real comparison
        assert found.live.ts_recv == max(e.ts_recv for e in events if e.symbol == symbol)


def follower_threads(data_dir):
    return [t for t in threading.enumerate() if t.name == f"features from {data_dir}"]


def test_the_store_source_starts_with_the_stores_vectors(tmp_path, events):
    data_dir = write_store(tmp_path, events)
    source = store_source(data_dir, refresh_s=60, clock=FakeClock())
    try:
        expected = expected_tracker(data_dir, newest_ts_recv(data_dir) - LOOKBACK_NS)
        assert_copy_equals(source, expected, events)
        found = source.lookup(VENUE, BTC)
        assert found.age_s == 0 and found.problem is None
        assert source.lookup(VENUE, "NOPE-USDT") is None
    finally:
        source.close()


def test_a_refresh_feeds_what_the_store_gained(tmp_path, events):
    half = len(events) // 2
    data_dir = write_store(tmp_path, events[:half])
    clock = FakeClock()
    source = store_source(data_dir, clock=clock)
    # refresh() is the follower thread's job (it feeds the tracker unlocked): stop the thread
    # before calling it here, else both could feed the same records.
    source.close()
    started = newest_ts_recv(data_dir) - LOOKBACK_NS
    assert_copy_equals(source, expected_tracker(data_dir, started), events[:half])
    clock.advance(10.0)
    assert source.lookup(VENUE, BTC).age_s == pytest.approx(10.0)
    write_store(tmp_path, events[half:])
    assert source.refresh() == len(events) - half
    assert_copy_equals(source, expected_tracker(data_dir, started), events)
    assert source.lookup(VENUE, BTC).age_s == 0
    assert source.refresh() == 0  # nothing new: nothing fed, but the copy is confirmed
    clock.advance(1.0)
    assert source.refresh() == 0 and source.lookup(VENUE, ETH).age_s == 0


def test_windows_longer_than_the_store_are_unknown_as_in_mdc_features(tmp_path, events):
    data_dir = write_store(tmp_path, events)  # 30 s of events
    source = StoreFeatureSource(data_dir, refresh_s=60, clock=FakeClock())  # an hour's lookback
    try:
        replayed = expected_tracker(data_dir, events[0].ts_recv, FeatureConfig.default())
        assert replayed.vector(VENUE, BTC).values["trade_count_5m"] is None
        assert source.lookup(VENUE, BTC).live.vector.values["trade_count_5m"] is None
    finally:
        source.close()


def newest_segment(data_dir, venue, symbol):
    stream_dir = os.path.join(data_dir, "wal", f"{venue}+book+{symbol}")
    return os.path.join(stream_dir, max(os.listdir(stream_dir)))


def test_an_unreadable_store_is_a_problem_and_the_copy_ages(tmp_path, events):
    # Tests run as root, so chmod cannot deny a read: a segment replaced by a directory fails
    # the store's open with an OSError (EISDIR) for root too.
    data_dir = write_store(tmp_path, events)
    clock = FakeClock()
    source = store_source(data_dir, refresh_s=0.02, clock=clock)
    try:
        before = source.lookup(VENUE, BTC)
        segment = newest_segment(data_dir, VENUE, BTC)
        os.rename(segment, segment + ".aside")
        os.mkdir(segment)
        found = wait_until_sync(
            lambda: (f := source.lookup(VENUE, BTC)).problem is not None and f,
            5,
            "the follower to report the unreadable store",
        )
        assert "cannot read the store" in found.problem
        assert found.live == before.live  # the vectors stay
        clock.advance(7.0)
        aged = source.lookup(VENUE, ETH)
        assert aged.age_s == pytest.approx(7.0) and aged.problem == found.problem
        assert follower_threads(data_dir), "the follower survives the failure"

        os.rmdir(segment)
        os.rename(segment + ".aside", segment)
        wait_until_sync(
            lambda: source.lookup(VENUE, BTC).problem is None,
            5,
            "the follower to read the store again",
        )
        assert source.lookup(VENUE, BTC).age_s == 0
    finally:
        source.close()


def test_a_store_whose_wal_is_gone_is_a_problem_not_the_end_of_the_follower(tmp_path, events):
    data_dir = write_store(tmp_path, events)
    source = store_source(data_dir, refresh_s=0.02, clock=FakeClock())
    wal = os.path.join(data_dir, "wal")
    try:
        os.rename(wal, wal + ".moved")
        wait_until_sync(
            lambda: source.lookup(VENUE, BTC).problem is not None or not follower_threads(data_dir),
            5,
            "the follower to notice the missing wal",
        )
        assert follower_threads(data_dir), "the follower thread died"
        assert source.lookup(VENUE, BTC).problem is not None
    finally:
        source.close()


def test_close_stops_the_follower_thread(tmp_path, events):
    data_dir = write_store(tmp_path, events[:500])
    source = store_source(data_dir, refresh_s=0.02)
    assert [t.is_alive() for t in follower_threads(data_dir)] == [True]
    source.close()
    assert follower_threads(data_dir) == []
