"""FeatureBoard over a real FeatureTracker fed with synthetic events: declared instruments,
versioned updates since a follower's version, epochs, `has_news` and coalescing of bursts."""

from __future__ import annotations

import pytest

from mdc.events import Gap
from mdc.features import FeatureConfig, FeatureTracker
from mdc.features.board import FeatureBoard
from models.synthetic import synthetic_events

VENUE, BTC, ETH = "binance", "BTC-USDT", "ETH-USDT"
EPOCH = "epoch-1"


@pytest.fixture(scope="module")
def events():
    return list(synthetic_events(seed=3, seconds=20))


def fed_board(events, epoch=EPOCH):
    """A board whose tracker has seen `events`, noted as touched (not yet published)."""
    tracker = FeatureTracker(FeatureConfig.default())
    board = FeatureBoard(tracker, epoch)
    feed(board, events)
    return board


def feed(board, events):
    for event in events:
        board.tracker.on_event(event)
    board.touched(events)


def newest_ts_recv(events, symbol):
    return max(e.ts_recv for e in events if e.symbol == symbol)


def by_symbol(update):
    return {live.vector.symbol: live for live in update.vectors}


def test_declared_instruments_are_unknown_until_their_first_event():
    tracker = FeatureTracker(FeatureConfig.default())
    board = FeatureBoard(tracker, EPOCH)
    board.declare([(VENUE, BTC), (VENUE, "SOL-USDT")], now_ns=123)
    update = board.updates(EPOCH, 0)
    assert update.epoch == EPOCH and update.version == 2
    assert sorted(by_symbol(update)) == [BTC, "SOL-USDT"]
    for live in update.vectors:
        assert live.ts_recv == 0 and live.vector.t_ns == 123 and live.vector.venue == VENUE
        assert live.vector.values == dict.fromkeys(tracker.config.names)
    # Declaring again changes nothing: no new version, nothing new for a current follower.
    board.declare([(VENUE, BTC)], now_ns=456)
    assert board.version == 2 and board.updates(EPOCH, 2).vectors == ()


def test_a_declared_instrument_takes_its_tracked_vector_once_touched(events):
    board = FeatureBoard(FeatureTracker(FeatureConfig.default()), EPOCH)
    board.declare([(VENUE, BTC)], now_ns=1)
    declared = board.updates(EPOCH, 0)
    feed(board, events)
    update = board.updates(EPOCH, declared.version)
    btc = by_symbol(update)[BTC]
    assert btc.vector == board.tracker.vector(VENUE, BTC)
    assert btc.ts_recv == newest_ts_recv(events, BTC) and btc.vector.values["mid"] is not None


def test_updates_return_only_what_changed_after_the_followers_version(events):
    half = len(events) // 2
    board = fed_board(events[:half])
    first = board.updates(EPOCH, 0)
    assert sorted(by_symbol(first)) == [BTC, ETH]
    for symbol, live in by_symbol(first).items():
        assert live.vector == board.tracker.vector(VENUE, symbol)
        assert live.ts_recv == newest_ts_recv(events[:half], symbol)

    btc_only = [e for e in events[half:] if e.symbol == BTC]
    feed(board, btc_only)
    second = board.updates(EPOCH, first.version)
    assert second.version > first.version
    assert list(by_symbol(second)) == [BTC]
    (btc,) = second.vectors
    assert btc.vector == board.tracker.vector(VENUE, BTC)
    assert btc.ts_recv == btc_only[-1].ts_recv
    assert btc.vector != by_symbol(first)[BTC].vector

    # A follower still at the first version also gets only BTC (ETH did not change since).
    assert [live.vector.symbol for live in board.updates(EPOCH, first.version).vectors] == [BTC]
    # One that is current gets nothing.
    assert board.updates(EPOCH, second.version).vectors == ()


def test_versions_increase_with_every_published_change(events):
    board = fed_board(events[:100])
    versions = [board.updates(EPOCH, 0).version]
    for start in range(100, 400, 100):
        feed(board, events[start : start + 100])
        versions.append(board.updates(EPOCH, versions[-1]).version)
    assert versions == sorted(set(versions)) and versions[0] > 0


def test_another_epoch_gets_every_vector_whatever_its_version(events):
    half = len(events) // 2
    board = fed_board(events[:half])
    first = board.updates(EPOCH, 0)
    feed(board, [e for e in events[half:] if e.symbol == BTC])
    current = board.updates(EPOCH, first.version)
    restarted = board.updates("an older epoch", current.version)
    assert restarted.epoch == EPOCH and restarted.version == current.version
    assert sorted(by_symbol(restarted)) == [BTC, ETH]
    for symbol, live in by_symbol(restarted).items():
        assert live.vector == board.tracker.vector(VENUE, symbol)


def test_has_news_only_when_updates_would_return_something(events):
    board = fed_board(events[:200])
    assert board.has_news(EPOCH, 0)  # touched, not yet published
    update = board.updates(EPOCH, 0)
    assert not board.has_news(EPOCH, update.version)
    assert board.has_news(EPOCH, update.version - 1)  # the follower is behind
    assert board.has_news("another epoch", update.version)
    feed(board, events[200:210])
    assert board.has_news(EPOCH, update.version)
    newer = board.updates(EPOCH, update.version)
    assert newer.vectors and not board.has_news(EPOCH, newer.version)


def test_a_burst_on_one_instrument_is_one_vector_and_one_version(events):
    board = fed_board(events[:50])
    before = board.updates(EPOCH, 0)
    burst = [e for e in events[50:] if e.symbol == ETH][:500]
    assert len(burst) == 500
    for event in burst:  # one event at a time, as StoreFeatureSource notes them
        board.tracker.on_event(event)
        board.touched((event,))
    update = board.updates(EPOCH, before.version)
    assert update.version == before.version + 1
    (eth,) = update.vectors
    assert eth.vector == board.tracker.vector(VENUE, ETH)
    assert eth.ts_recv == burst[-1].ts_recv


def test_events_without_a_symbol_or_untracked_instruments_publish_nothing(events):
    tracker = FeatureTracker(FeatureConfig.default(), max_instruments=1)
    board = FeatureBoard(tracker, EPOCH)
    btc = [e for e in events[:300] if e.symbol == BTC]
    eth = [e for e in events[:300] if e.symbol == ETH]
    feed(board, btc)
    first = board.updates(EPOCH, 0)
    feed(board, eth)  # the tracker is full: ETH is dropped, not tracked
    assert tracker.dropped_events == len(eth)
    assert board.updates(EPOCH, first.version).vectors == ()
    assert [live.vector.symbol for live in board.updates("other", 0).vectors] == [BTC]


def test_a_venue_wide_gap_republishes_every_instrument_of_the_venue(events):
    board = fed_board(events)
    before = board.updates(EPOCH, 0)
    now = events[-1].ts_recv + 1_000_000_000
    gap = Gap(VENUE, "", now, now, "connection", "disconnected: test")
    feed(board, [gap])
    assert board.tracker.vector(VENUE, BTC).values["mid"] is None  # the tracker took the gap
    update = board.updates(EPOCH, before.version)
    assert sorted(by_symbol(update)) == [BTC, ETH]
    assert by_symbol(update)[BTC].vector == board.tracker.vector(VENUE, BTC)
