"""The 51 reference features at the 5 query times of specs/features_reference.json, through the
engine directly and through the tracker with mdc events."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from pathlib import Path

import pytest

from mdc.events import BookSnapshot, Trade
from mdc.features import ALL_FEATURES, FeatureConfig, FeatureEngine, FeatureTracker

REFERENCE_FILE = Path(__file__).resolve().parents[1] / "fixtures/features/features_reference.json"
REFERENCE = json.loads(REFERENCE_FILE.read_text())
START = REFERENCE["stream_start_ns"]


def _levels(rows: list[list[str]]) -> tuple[tuple[Decimal, Decimal], ...]:
    return tuple((Decimal(p), Decimal(q)) for p, q in rows)


def _inputs() -> list[tuple[int, str, dict]]:
    items = [(t["ts_ns"], "trade", t) for t in REFERENCE["trades"]]
    items += [(s["ts_ns"], "book", s) for s in REFERENCE["book_snapshots"]]
    return sorted(items, key=lambda item: (item[0], item[1]))


def assert_matches(actual: dict, expected: dict, where: str) -> None:
    assert list(actual) == list(expected), where
    for name, want in expected.items():
        got = actual[name]
        if want is None or got is None:
            assert got is None and want is None, f"{where} {name}: {got!r} != {want!r}"
        elif name.startswith("trade_count"):
            assert type(got) is int and got == want, f"{where} {name}: {got!r} != {want!r}"
        else:
            assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12), (
                f"{where} {name}: {got!r} != {want!r}"
            )


def test_all_features_are_the_reference_names_in_order():
    assert tuple(REFERENCE["queries"][0]["expected"]) == ALL_FEATURES
    assert FeatureConfig.default().names == ALL_FEATURES


def test_engine_reproduces_every_reference_value():
    engine = FeatureEngine(FeatureConfig.default(), START)
    inputs = _inputs()
    fed = 0
    for query in REFERENCE["queries"]:
        t = query["t_ns"]
        while fed < len(inputs) and inputs[fed][0] <= t:
            ts, kind, raw = inputs[fed]
            if kind == "trade":
                side = -1 if raw["is_buyer_maker"] else 1
                engine.on_trade(ts, Decimal(raw["price"]), Decimal(raw["qty"]), side)
            else:
                engine.on_book(ts, _levels(raw["bids"]), _levels(raw["asks"]))
            fed += 1
        assert_matches(engine.values(t), query["expected"], f"t={query['t_offset_min']}m")
    assert engine.late_events == 0 and engine.invalid_snapshots == 0


def test_engine_query_lagging_the_inputs_excludes_newer_ones():
    """All inputs first, then the queries: windows leave out what is newer than t. Lagging the
    inputs by up to the widest window (1 h) is exact, so every query but the 20m one is checked."""
    engine = FeatureEngine(FeatureConfig.default(), START)
    for ts, kind, raw in _inputs():
        if kind == "trade":
            side = -1 if raw["is_buyer_maker"] else 1
            engine.on_trade(ts, Decimal(raw["price"]), Decimal(raw["qty"]), side)
        else:
            engine.on_book(ts, _levels(raw["bids"]), _levels(raw["asks"]))
    last_input = _inputs()[-1][0]
    checked = [q for q in REFERENCE["queries"] if last_input - q["t_ns"] <= 3600 * 10**9]
    assert len(checked) == 4
    for query in checked:
        assert_matches(engine.values(query["t_ns"]), query["expected"], "lagging")


def reference_events(venue: str = "testvenue", symbol: str = "TST-USD") -> list:
    """The reference inputs as mdc events (ts_recv a little after ts_event)."""
    events = []
    for i, (ts, kind, raw) in enumerate(_inputs()):
        if kind == "trade":
            side = "sell" if raw["is_buyer_maker"] else "buy"
            events.append(
                Trade(
                    venue,
                    symbol,
                    ts,
                    ts + 1000,
                    Decimal(raw["price"]),
                    Decimal(raw["qty"]),
                    side,
                    i,
                )
            )
        else:
            bids, asks = _levels(raw["bids"]), _levels(raw["asks"])
            events.append(BookSnapshot(venue, symbol, ts, ts + 1000, bids, asks, update_id=i))
    return events


@pytest.mark.parametrize("venue", ["testvenue", "binance"])
def test_tracker_with_mdc_events_reproduces_every_reference_value(venue):
    tracker = FeatureTracker(FeatureConfig.default())
    events = reference_events(venue)
    fed = 0
    for query in REFERENCE["queries"]:
        t = query["t_ns"]
        while fed < len(events) and events[fed].ts_event <= t:
            tracker.on_event(events[fed])
            fed += 1
        vector = tracker.vector(venue, "TST-USD", t)
        assert vector is not None and vector.t_ns == t
        assert_matches(vector.values, query["expected"], f"tracker t={query['t_offset_min']}m")
    assert tracker.instruments() == [(venue, "TST-USD")]
    assert tracker.vector(venue, "NOPE") is None
