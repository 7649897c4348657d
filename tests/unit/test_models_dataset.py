"""models.dataset: labels from the mid one sample later, null fills, and the data fingerprint."""

from __future__ import annotations

import hashlib
import itertools
from decimal import Decimal

import msgspec
import numpy as np
import pytest

from mdc.book import Book
from mdc.events import BookDelta, BookSnapshot, Event, Trade, to_msgpack
from mdc.features import FeatureConfig
from models.dataset import EventFingerprint, build_dataset
from models.errors import TrainingError
from models.synthetic import synthetic_events

SECOND = 10**9
T0 = 1_700_000_000 * SECOND
CONFIG = FeatureConfig.default()
FEATURES = ("spread_bps", "l1_imbalance", "order_imbalance_l5", "ofi_5m")


def _snapshot(ts: int, bid: str, ask: str, symbol: str = "BTC-USDT") -> BookSnapshot:
    levels = ((Decimal(bid), Decimal("1.5")),), ((Decimal(ask), Decimal("0.5")),)
    return BookSnapshot("binance", symbol, ts, ts, *levels)


def _trade(ts: int, symbol: str = "ETH-USDT") -> Trade:
    return Trade("binance", symbol, ts, ts, Decimal("10.5"), Decimal("1"), "buy", ts)


def test_label_is_next_mid_above_current_flat_is_down():
    # Mids at samples T0+1s..T0+6s: 100, 100 (flat), 101 (up), 100.5 (down), 102 (up), 102.
    quotes = [("99", "101"), ("99.5", "100.5"), ("100", "102"), ("100", "101"), ("101", "103")]
    events: list[Event] = [
        _snapshot(T0 + k * SECOND + SECOND // 2, *q) for k, q in enumerate(quotes)
    ]
    events += [_trade(T0 + k * SECOND) for k in range(7)]  # trades only: mid never known
    events.sort(key=lambda e: e.ts_event)
    dataset = build_dataset(events, CONFIG, FEATURES, SECOND)
    assert dataset.y.tolist() == [0, 1, 0, 1, 0]
    assert dataset.t_ns.tolist() == [T0 + k * SECOND for k in range(1, 6)]
    assert dataset.x.dtype == np.float32 and dataset.x.shape == (5, 4)
    assert dataset.x[:, 1].tolist() == [0.75] * 5  # l1_imbalance = 1.5 / (1.5 + 0.5)
    # ofi_5m: the window is never complete in 6 s, so the column is all null -> fill 0.0.
    assert dataset.null_fill["ofi_5m"] == 0.0 and not dataset.x[:, 3].any()
    assert dataset.data.from_ns == T0 and dataset.data.to_ns == T0 + 6 * SECOND
    assert dataset.data.events == len(events)


def test_nulls_take_the_median_of_known_values():
    config = FeatureConfig.from_entries(
        [{"name": "m", "type": "Microprice"}, {"name": "v", "type": "VWAP", "windows": ["5s"]}]
    )
    events: list[Event] = [_snapshot(T0 + SECOND // 2 + k * SECOND, "99", "101") for k in range(12)]
    events += [
        msgspec.structs.replace(_trade(T0 + 7_200_000_000, "BTC-USDT"), price=Decimal(100)),
        msgspec.structs.replace(_trade(T0 + 8_200_000_000, "BTC-USDT"), price=Decimal(102)),
    ]
    events.sort(key=lambda e: e.ts_event)
    dataset = build_dataset(events, config, ("vwap_5s", "spread_bps"), SECOND)
    # Rows sampled at 1s..10s: vwap_5s is null until the first trade enters the window at 8s.
    assert dataset.t_ns.tolist() == [T0 + k * SECOND for k in range(1, 11)]
    assert dataset.null_fill == {"vwap_5s": 101.0, "spread_bps": 200.0}
    assert dataset.x[:, 0].tolist() == [101.0] * 7 + [100.0, 101.0, 101.0]
    assert not dataset.y.any()  # the mid never moves


def test_a_long_pause_is_not_sampled():
    """A collector stopped for ten minutes: sampling stops a minute into the silence."""
    quotes = [("100", "102"), ("99", "101")] * 3  # mids 101, 100, 101, 100, 101, 100
    before = [_snapshot(T0 + k * SECOND, *q) for k, q in enumerate(quotes)]
    after = [_snapshot(T0 + 600 * SECOND + k * SECOND, *q) for k, q in enumerate(quotes)]
    dataset = build_dataset(before + after, CONFIG, FEATURES, SECOND)
    # Samples at 1..65 s (the last event was at 5 s; 65 s is the last within MAX_IDLE_NS), then
    # 600..605 s: a row pairs consecutive samples, so none spans the silence.
    assert ((dataset.t_ns - T0) // SECOND).tolist() == [*range(1, 65), *range(600, 605)]
    assert dataset.y.tolist() == [1, 0, 1, 0] + [0] * 60 + [0, 1, 0, 1, 0]


def test_labels_match_an_independent_book_replay():
    events = list(synthetic_events(11, 40, symbols=("BTC-USDT",)))
    dataset = build_dataset(events, CONFIG, FEATURES, SECOND)
    book, mids, grid, i = Book(), [], T0 + SECOND, 0
    while grid <= events[-1].ts_event:
        while i < len(events) and events[i].ts_event <= grid:
            event = events[i]
            if isinstance(event, BookSnapshot):
                book.load(event.bids, event.asks)
            elif isinstance(event, BookDelta):
                book.apply(event.bids, event.asks)
            i += 1
        mids.append((book.best_bid()[0] + book.best_ask()[0]) / 2)
        grid += SECOND
    expected = [int(after > before) for before, after in itertools.pairwise(mids)]
    assert dataset.y.tolist() == expected
    assert 0 < dataset.y.mean() < 1 and len(expected) >= 35


def test_fingerprint_is_sha256_of_the_msgpack_stream():
    events = list(synthetic_events(2, 10))
    digest = hashlib.sha256(b"".join(to_msgpack(e) for e in events)).hexdigest()
    first = build_dataset(events, CONFIG, FEATURES, SECOND).data
    assert first.sha256 == digest
    assert build_dataset(iter(events), CONFIG, FEATURES, SECOND).data == first
    k = next(i for i, e in enumerate(events) if isinstance(e, Trade))
    changed = list(events)
    changed[k] = msgspec.structs.replace(events[k], size=events[k].size + Decimal("0.00001"))
    assert build_dataset(changed, CONFIG, FEATURES, SECOND).data.sha256 != digest
    fingerprint = EventFingerprint()
    for event in events[:-1]:
        fingerprint.add(event)
    assert fingerprint.result().sha256 != digest and fingerprint.result().events == len(events) - 1


def test_empty_stream_and_bad_arguments():
    empty = build_dataset([], CONFIG, FEATURES, SECOND)
    assert (len(empty.y), empty.x.shape, empty.data.events) == (0, (0, 4), 0)
    assert empty.data.sha256 == hashlib.sha256().hexdigest()
    with pytest.raises(TrainingError, match=r"does not enable \['nope'\]"):
        build_dataset([], CONFIG, ("spread_bps", "nope"), SECOND)
    no_mid = FeatureConfig.from_entries([{"name": "rv", "type": "RealizedVolatility"}])
    with pytest.raises(TrainingError, match=r"does not enable \['mid'\]"):
        build_dataset([], no_mid, ("rv_5m",), SECOND)
    with pytest.raises(TrainingError, match="sample interval must be positive"):
        build_dataset([], CONFIG, FEATURES, 0)
