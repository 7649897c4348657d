"""Market model invariants: never crossed, exact grid, contiguous ids, seeded determinism."""

from __future__ import annotations

import ast
import itertools
import random
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mdc.simulator.config import INSTRUMENTS, SimulatorConfig
from mdc.simulator.model import (
    BookUpdate,
    L2Book,
    MarketModel,
    ModelTrade,
    SimulatorConfigError,
    SymbolModel,
)

T0 = 1_700_000_000_000_000_000
SPEC = INSTRUMENTS["binance"]["BTC-USDT"]


def run(seed: int, seconds: float, step_ns: int = 10_000_000) -> tuple[SymbolModel, list]:
    model = SymbolModel(SPEC, random.Random(seed), rate_per_s=200)
    events = []
    for now in range(T0, T0 + int(seconds * 1e9), step_ns):
        events.extend(model.step(now))
    return model, events


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32))
def test_book_never_crossed_and_on_grid(seed: int) -> None:
    model = SymbolModel(SPEC, random.Random(seed), rate_per_s=200)
    replay = model.book.copy()
    for now in range(T0, T0 + 2_000_000_000, 10_000_000):
        for ev in model.step(now):
            if isinstance(ev, BookUpdate):
                replay.apply(ev.changes)
                bid, ask = replay.best("bid"), replay.best("ask")
                assert bid is not None and ask is not None
                assert bid[0] < ask[0], f"crossed at update {ev.update_id}"
    assert replay.bids == model.book.bids and replay.asks == model.book.asks
    for levels in (model.book.bids, model.book.asks):
        for price, size in levels.items():
            assert price % SPEC.tick == 0 and size % SPEC.lot == 0 and size > 0


def test_ids_contiguous_and_times_strictly_increase_by_a_millisecond() -> None:
    _, events = run(seed=3, seconds=3)
    updates = [e for e in events if isinstance(e, BookUpdate)]
    trades = [e for e in events if isinstance(e, ModelTrade)]
    assert len(updates) > 300 and len(trades) > 30
    assert [u.update_id for u in updates] == list(
        range(updates[0].update_id, updates[-1].update_id + 1)
    )
    assert [t.trade_id for t in trades] == list(range(trades[0].trade_id, trades[-1].trade_id + 1))
    gaps = [b.ts_ns - a.ts_ns for a, b in itertools.pairwise(updates)]
    assert min(gaps) >= 1_000_000


def test_trades_consume_the_touched_level() -> None:
    model = SymbolModel(SPEC, random.Random(5), rate_per_s=200)
    before = model.book.copy()
    for now in range(T0, T0 + 5_000_000_000, 1_000_000):
        events = model.step(now)
        for trade in (e for e in events if isinstance(e, ModelTrade)):
            side = before.asks if trade.aggressor == "buy" else before.bids
            assert trade.price in side and trade.size <= side[trade.price]
        for ev in events:
            if isinstance(ev, BookUpdate):
                before.apply(ev.changes)


def test_same_seed_same_events_regardless_of_step_pattern() -> None:
    _, coarse = run(seed=11, seconds=2, step_ns=100_000_000)
    _, fine = run(seed=11, seconds=2, step_ns=7_000_000)
    _, other = run(seed=12, seconds=2, step_ns=100_000_000)
    common = min(len(coarse), len(fine))
    assert common > 100 and coarse[:common] == fine[:common]
    assert coarse[:50] != other[:50]


def test_market_model_orders_events_by_time_across_symbols() -> None:
    model = MarketModel(SimulatorConfig().specs("coinbase"), random.Random(1), 100)
    events = model.step(T0) + model.step(T0 + 1_000_000_000)
    assert {e.symbol for e in events} == {"BTC-USD", "ETH-USD"}
    assert [e.ts_ns for e in events] == sorted(e.ts_ns for e in events)


def test_bad_rate_and_venue_are_typed_errors() -> None:
    with pytest.raises(SimulatorConfigError, match="rate"):
        SymbolModel(SPEC, random.Random(1), rate_per_s=5000)
    with pytest.raises(SimulatorConfigError, match="unknown"):
        SimulatorConfig(venues=("nasdaq",))
    with pytest.raises(SimulatorConfigError, match="at least one symbol"):
        MarketModel([], random.Random(1), 10)


def test_l2book_top_orders_best_first() -> None:
    book = L2Book()
    book.apply([("bid", Decimal("1"), Decimal("2")), ("bid", Decimal("3"), Decimal("1"))])
    book.apply([("ask", Decimal("5"), Decimal("1")), ("ask", Decimal("4"), Decimal("1"))])
    book.apply([("ask", Decimal("9"), Decimal("0"))])
    assert [p for p, _ in book.top("bid")] == [Decimal("3"), Decimal("1")]
    assert [p for p, _ in book.top("ask", 1)] == [Decimal("4")]


SANS_IO = ["model.py", "faults.py", "truth.py", "config.py", "control.py", "encoders"]
FORBIDDEN = (
    "asyncio",
    "aiohttp",
    "websockets",
    "socket",
    "time",
    "mdc.venues",
    "mdc.book",
    "mdc.sync",
)


def test_core_modules_do_no_io_and_share_no_parser_code() -> None:
    root = Path(__file__).resolve().parents[2] / "mdc" / "simulator"
    files = [
        p
        for name in SANS_IO
        for p in ((root / name).rglob("*.py") if (root / name).is_dir() else [root / name])
    ]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            bad = [n for n in names if n in FORBIDDEN or n.startswith(FORBIDDEN[5:])]
            assert not bad, f"{path.name} imports {bad}"
