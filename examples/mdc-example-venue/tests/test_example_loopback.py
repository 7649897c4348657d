"""Simulator encoder -> venue parser, joined in memory: the guarantees `mdc verify` checks on a
real run (every published trade stored once and exactly, the book equal to the venue's), here
without sockets, Ray or a clock, with frames lost on purpose."""

from __future__ import annotations

import random
from collections.abc import Callable

from mdc_example_venue import ExampleVenue
from mdc_example_venue.simulator import ExampleSimVenue
from mdc_example_venue.wire import NAME, WS_PATH

from mdc.events import Event, Gap, Trade, identity
from mdc.simulator.config import SimulatorConfig
from mdc.simulator.model import MarketModel, ModelTrade
from mdc.venues.base import HttpGet, SendText, Session, SessionConfig

T0 = 1_700_000_000_000_000_000
STEP_NS = 20_000_000
SYMBOLS = ("BTC-USD", "ETH-USD")


class Loopback:
    """The simulator's venue and the collector's Session, frames passed by hand; `lose` decides
    which data frames the network drops (control frames, as in the simulator, always pass)."""

    def __init__(self, seed: int) -> None:
        config = SimulatorConfig(venues=(NAME,), symbols={NAME: SYMBOLS}, rate=200.0)
        self.model = MarketModel(config.specs(NAME), random.Random(seed), config.rate)
        self.sim = ExampleSimVenue(self.model, config)
        self.server = self.sim.open_session(WS_PATH, {}, {})
        self.client = Session(ExampleVenue(), SessionConfig(SYMBOLS))
        self.now = T0
        self.published: list[Trade] = []
        self.stored: list[Event] = []
        self.frames = 0
        self.stored += self.client.connected(self.now)
        self._carry_out()

    def run(self, steps: int, lose: Callable[[int], bool] = lambda n: False) -> None:
        for _ in range(steps):
            self.now += STEP_NS
            events = self.model.step(self.now)
            self.published += [self.sim.truth_trade(e) for e in events if type(e) is ModelTrade]
            out = self.server.on_publications(self.sim.publish(events), self.now)
            data = out.data + self.server.on_tick(self.now).data
            self._deliver(out.control)
            for frame in data:
                self.frames += 1
                if not lose(self.frames):
                    self._deliver([frame])
            self._carry_out()

    def _deliver(self, frames: list[str]) -> None:
        for frame in frames:
            self.stored += self.client.receive(frame.encode(), self.now)

    def _carry_out(self) -> None:
        """What the collector's shell does with the outbox: send frames, make REST calls."""
        for item in self.client.outbox():
            if isinstance(item, SendText):
                self._deliver(self.server.on_message(item.text, self.now).control)
            elif isinstance(item, HttpGet):
                answer = self.sim.rest(item.path, dict(item.params), {})
                body = answer.body.encode()
                self.stored += self.client.http_response(item, answer.status, body, self.now)
        if self.client.outbox():
            self._carry_out()  # a full backfill page asks for the next one

    def trades(self) -> list[Trade]:
        return [e for e in self.stored if isinstance(e, Trade)]

    def gaps(self, stream: str) -> list[Gap]:
        return [e for e in self.stored if isinstance(e, Gap) and e.stream == stream]


def values(trade: Trade) -> tuple:
    return trade.price, trade.size, trade.side, trade.ts_event


def assert_every_trade_once(loop: Loopback) -> None:
    """From the first trade received on, every published trade was stored once, as published."""
    stored = {identity(t): t for t in loop.trades()}
    assert len(stored) == len(loop.trades()), "a trade was stored twice"
    first = next(i for i, t in enumerate(loop.published) if identity(t) in stored)
    expected = loop.published[first:]
    missing = [(t.symbol, t.trade_id) for t in expected if identity(t) not in stored]
    assert not missing, f"trades never stored: {missing}"
    wrong = [t for t in expected if values(stored[identity(t)]) != values(t)]
    assert not wrong, f"stored other than published: {wrong}"
    assert len(stored) == len(expected), "stored trades the venue never published"


def assert_books_are_the_venues(loop: Loopback) -> None:
    for symbol in SYMBOLS:
        sync = loop.client.books[symbol]
        venue_book = loop.sim.mirror[symbol]
        assert sync.in_sync
        assert sync.last_update_id == loop.model.symbols[symbol].update_id
        bids, asks = sync.book.top()
        assert (tuple(bids), tuple(asks)) == (venue_book.top("bid"), venue_book.top("ask"))


def test_a_clean_run_stores_every_trade_once_and_keeps_the_books() -> None:
    loop = Loopback(seed=3)
    loop.run(300)
    assert len(loop.trades()) > 50
    assert not [e for e in loop.stored if isinstance(e, Gap)]
    assert_every_trade_once(loop)
    assert_books_are_the_venues(loop)


def test_lost_frames_are_found_and_repaired() -> None:
    loop = Loopback(seed=4)
    loop.run(300, lose=lambda n: n % 9 == 0)
    loop.run(100)  # a quiet second: the heartbeats name any trade lost at the very end
    assert loop.gaps("trades") and loop.gaps("book"), "the losses were not all seen"
    assert_every_trade_once(loop)
    assert_books_are_the_venues(loop)
