"""Market faults of the simulator (what alert rules watch for): a price jump moves the whole book
in one update, a trade halt stops trades but not the book, crossed quotes show a bid above the
ask on a venue that publishes quotes; bad requests are refused with a reason."""

from __future__ import annotations

import json
import random
from decimal import Decimal

import pytest

from mdc.simulator.config import INSTRUMENTS, SimulatorConfig
from mdc.simulator.driver import VenueDriver
from mdc.simulator.model import BookUpdate, ModelTrade, SimulatorConfigError, SymbolModel
from mdc.simulator.server import VenueServer

T0 = 1_700_000_000_000_000_000
SPEC = INSTRUMENTS["kraken"]["BTC-USD"]
STEP_NS = 10_000_000


def _steps(model: SymbolModel, start: int, seconds: float) -> list:
    return [e for now in range(start, start + int(seconds * 1e9), STEP_NS) for e in model.step(now)]


def test_a_jump_moves_every_level_in_one_update_and_the_next_trade_prints_there() -> None:
    model = SymbolModel(SPEC, random.Random(4), rate_per_s=200)
    before = _steps(model, T0, 1)
    last_price = [e for e in before if isinstance(e, ModelTrade)][-1].price
    bids, asks = dict(model.book.bids), dict(model.book.asks)
    model.jump(Decimal("0.06"))
    after = _steps(model, T0 + 10**9, 1)
    shift = after[0]
    assert isinstance(shift, BookUpdate)
    added = {(side, price): size for side, price, size in shift.changes if size}
    delta = min(p for side, p in added if side == "ask") - min(asks)
    assert delta / min(asks) > Decimal("0.059")
    moved = {("bid", p + delta): s for p, s in bids.items()}
    moved |= {("ask", p + delta): s for p, s in asks.items()}
    assert moved == added
    first_trade = next(e for e in after if isinstance(e, ModelTrade))
    assert abs(first_trade.price - last_price) / last_price > Decimal("0.05")
    assert max(model.book.bids) < min(model.book.asks)


def test_a_trade_halt_stops_trades_until_its_end_and_the_book_keeps_moving() -> None:
    model = SymbolModel(SPEC, random.Random(5), rate_per_s=200)
    _steps(model, T0, 0.5)
    until = T0 + 2 * 10**9
    model.halt_trades(until)
    events = _steps(model, T0 + 5 * 10**8, 3)
    halted = [e for e in events if e.ts_ns < until]
    assert halted and not [e for e in halted if isinstance(e, ModelTrade)]
    assert [e for e in events if isinstance(e, ModelTrade) and e.ts_ns >= until]


@pytest.mark.parametrize("fraction", ["0", "-0.5", "1.5"])
def test_a_jump_out_of_range_is_refused(fraction: str) -> None:
    model = SymbolModel(SPEC, random.Random(1), rate_per_s=10)
    with pytest.raises(SimulatorConfigError, match="jump"):
        model.jump(Decimal(fraction))


def test_crossed_quotes_show_another_exchanges_bid_above_the_ask_then_the_true_top() -> None:
    config = SimulatorConfig(venues=("alpaca",), rate=200)
    driver = VenueDriver("alpaca", config)
    driver.advance(T0)
    driver.venue.cross_quotes(["AAPL"], T0 + 10**9)
    quotes = [
        json.loads(bytes(p.body))
        for now in range(T0 + STEP_NS, T0 + 2 * 10**9, STEP_NS)
        for p in driver.advance(now)
        if p.topic == ("quotes", "AAPL")
    ]
    crossed = [q for q in quotes if Decimal(str(q["bp"])) > Decimal(str(q["ap"]))]
    assert crossed and {q["bx"] for q in crossed} == {"Q"}
    assert quotes[-1]["bx"] == "V" and Decimal(str(quotes[-1]["bp"])) < Decimal(
        str(quotes[-1]["ap"])
    )


@pytest.mark.parametrize(
    ("venue", "body", "reason"),
    [
        ("kraken", {"jump": 5}, "unknown market fault"),
        ("kraken", {"halt_trades_s": -1}, "positive number"),
        ("kraken", {"refuse_s": "5"}, "positive number"),
        ("kraken", {"jump_pct": 500}, "jump must be"),
        ("kraken", {"symbol": "DOGE-USD", "jump_pct": 5}, "no symbol 'DOGE-USD'"),
        ("kraken", {"symbol": 7}, "symbol must be a string"),
        ("kraken", {"cross_quotes_s": 2}, "kraken publishes no quotes"),
        ("kraken", [1], "JSON object"),
    ],
)
def test_bad_market_fault_requests_are_refused_with_a_reason(venue, body, reason) -> None:
    server = VenueServer(venue, SimulatorConfig(venues=(venue,)))
    reply = server.control.handle("POST", "/_sim/market", {}, json.dumps(body).encode())
    assert reply.status == 400 and reason in json.loads(reply.body)["error"]


def test_a_market_fault_without_a_symbol_applies_to_every_symbol() -> None:
    server = VenueServer("alpaca", SimulatorConfig(venues=("alpaca",)))
    reply = server.control.handle("POST", "/_sim/market", {}, b'{"cross_quotes_s": 1}')
    assert json.loads(reply.body) == {"ok": True, "symbols": ["AAPL", "MSFT"]}
