"""Seeded market model: one L2 book per symbol driven by random order flow and trades.

Sans-I/O: randomness comes from an injected `random.Random`, time from `now_ns`. Events are
scheduled on the model's own clock (Poisson arrivals, at least 1 ms apart per symbol), so the
same seed gives the same events however often `step` is called, and every venue timestamp
(ms, µs or ns) strictly increases per symbol.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from mdc.errors import ConfigError
from mdc.events import BookSide, Level

MIN_SPACING_NS = 1_000_000
MAX_RATE = 500.0
TRADE_PROBABILITY = 0.2
MIN_LEVELS = 5
MIN_JUMP, MAX_JUMP = Decimal("-0.5"), Decimal("1")
"""Price spike faults move the market by at most this fraction (a book never reaches zero)."""

Aggressor = Literal["buy", "sell"]
Change = tuple[BookSide, Decimal, Decimal]
"""(side, price, new absolute size); size 0 removes the level."""


class SimulatorConfigError(ConfigError):
    """A simulator setting is out of range; the message names it."""


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """An instrument: normalized name, price tick, size lot and a plausible starting price."""

    symbol: str
    start_price: Decimal
    tick: Decimal
    lot: Decimal
    max_lots: int
    levels: int = 25

    @property
    def price_dp(self) -> int:
        return max(0, -int(self.tick.as_tuple().exponent))

    @property
    def size_dp(self) -> int:
        return max(0, -int(self.lot.as_tuple().exponent))


@dataclass(frozen=True, slots=True)
class ModelTrade:
    symbol: str
    trade_id: int
    ts_ns: int
    price: Decimal
    size: Decimal
    aggressor: Aggressor


@dataclass(frozen=True, slots=True)
class BookUpdate:
    """One batch of level changes; `update_id` grows by 1 per batch and symbol."""

    symbol: str
    update_id: int
    ts_ns: int
    changes: tuple[Change, ...]


ModelEvent = ModelTrade | BookUpdate


class L2Book:
    """Price -> size per side; sizes are absolute and a zero size removes the level."""

    def __init__(self) -> None:
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}

    def side(self, side: BookSide) -> dict[Decimal, Decimal]:
        return self.bids if side == "bid" else self.asks

    def apply(self, changes: Iterable[Change]) -> None:
        for side, price, size in changes:
            levels = self.side(side)
            if size:
                levels[price] = size
            else:
                levels.pop(price, None)

    def top(self, side: BookSide, depth: int | None = None) -> tuple[Level, ...]:
        """Levels best first (bids descending, asks ascending)."""
        levels = self.side(side)
        prices = sorted(levels, reverse=side == "bid")[:depth]
        return tuple((p, levels[p]) for p in prices)

    def best(self, side: BookSide) -> Level | None:
        levels = self.side(side)
        if not levels:
            return None
        price = max(levels) if side == "bid" else min(levels)
        return price, levels[price]

    def copy(self) -> L2Book:
        clone = L2Book()
        clone.bids = dict(self.bids)
        clone.asks = dict(self.asks)
        return clone


def check_jump(fraction: Decimal) -> None:
    if not MIN_JUMP < fraction <= MAX_JUMP or not fraction:
        raise SimulatorConfigError(
            f"a jump must be a nonzero fraction in ({MIN_JUMP}, {MAX_JUMP}], got {fraction}"
        )


class SymbolModel:
    """One symbol's book, random-walk fair price and order flow."""

    def __init__(self, spec: SymbolSpec, rng: random.Random, rate_per_s: float) -> None:
        if not 0 < rate_per_s <= MAX_RATE:
            raise SimulatorConfigError(
                f"rate must be in (0, {MAX_RATE}] events/s, got {rate_per_s}"
            )
        self.spec = spec
        self._rng = rng
        self._mean_gap_ns = 1e9 / rate_per_s
        self._fair_ticks = int(spec.start_price / spec.tick)
        self.book = L2Book()
        self.update_id = rng.randrange(10_000_000, 90_000_000)
        self.next_trade_id = rng.randrange(1_000_000, 9_000_000)
        self.last_ts_ns = 0
        self._next_ns: int | None = None
        self._jump_ticks = 0
        self._trades_halted_until_ns = 0
        self.book.apply(self._initial_levels())

    def jump(self, fraction: Decimal) -> None:
        """A price spike fault: the next event moves the fair price and every level of the book
        by `fraction` (one BookUpdate; sizes kept), so the next trade prints that far away."""
        check_jump(fraction)
        self._jump_ticks = int(self._fair_ticks * fraction) or (1 if fraction > 0 else -1)

    def halt_trades(self, until_ns: int) -> None:
        """A trade halt fault: no trades before `until_ns`; the book keeps moving."""
        self._trades_halted_until_ns = until_ns

    def step(self, now_ns: int) -> list[ModelEvent]:
        """All events scheduled up to `now_ns`, in time order."""
        if self._next_ns is None:
            self._next_ns = now_ns
        events: list[ModelEvent] = []
        while self._next_ns <= now_ns:
            ts = self._next_ns
            events.extend(self._one_event(ts))
            self.last_ts_ns = ts
            gap = int(self._rng.expovariate(1.0) * self._mean_gap_ns)
            self._next_ns = ts + max(MIN_SPACING_NS, gap)
        return events

    def _initial_levels(self) -> list[Change]:
        changes: list[Change] = []
        for k in range(1, self.spec.levels // 2 + 1):
            changes.append(("bid", self._price(self._fair_ticks - k), self._random_size()))
            changes.append(("ask", self._price(self._fair_ticks + k), self._random_size()))
        return changes

    def _price(self, ticks: int) -> Decimal:
        return (ticks * self.spec.tick).quantize(self.spec.tick)

    def _random_size(self) -> Decimal:
        lots = self._rng.randint(1, self.spec.max_lots)
        return (lots * self.spec.lot).quantize(self.spec.lot)

    def _one_event(self, ts_ns: int) -> list[ModelEvent]:
        self._fair_ticks = max(10, self._fair_ticks + self._rng.choice((-1, 0, 0, 1)))
        trades: list[ModelTrade] = []
        trade = self._rng.random() < TRADE_PROBABILITY
        if self._jump_ticks:
            changes = self._shift(self._jump_ticks)
            self._jump_ticks = 0
        elif trade and ts_ns >= self._trades_halted_until_ns:
            trades, changes = self._trade(ts_ns)
        else:
            changes = [self._flow()]
        changes = self._merge(changes, self._keep_depth(changes))
        self.update_id += 1
        return [*trades, BookUpdate(self.spec.symbol, self.update_id, ts_ns, tuple(changes))]

    def _trade(self, ts_ns: int) -> tuple[list[ModelTrade], list[Change]]:
        """An aggressor eats into the opposite top of book, up to three levels deep."""
        buy_bias = 0.5 + (0.2 if self._fair_ticks * self.spec.tick > self._mid() else -0.2)
        aggressor: Aggressor = "buy" if self._rng.random() < buy_bias else "sell"
        side: BookSide = "ask" if aggressor == "buy" else "bid"
        remaining = self._random_size() * self._rng.randint(1, 3)
        levels = self.book.top(side, 3)
        trades: list[ModelTrade] = []
        changes: list[Change] = []
        for price, size in levels:
            fill = min(remaining, size)
            trades.append(
                ModelTrade(self.spec.symbol, self.next_trade_id, ts_ns, price, fill, aggressor)
            )
            self.next_trade_id += 1
            changes.append((side, price, size - fill))
            remaining -= fill
            if not remaining:
                break
        self.book.apply(changes)
        return trades, changes

    def _shift(self, ticks: int) -> list[Change]:
        """Every level cancelled and re-added `ticks` away, as one set of changes."""
        delta = ticks * self.spec.tick
        moved: list[Change] = []
        for side in ("bid", "ask"):
            levels = self.book.side(side)
            moved += [(side, price, Decimal(0)) for price in levels]
            moved += [(side, price + delta, size) for price, size in levels.items()]
        changes = self._merge(moved, [])
        self.book.apply(changes)
        self._fair_ticks += ticks
        return changes

    def _flow(self) -> Change:
        """Add, resize or cancel one level, never crossing the book."""
        side: BookSide = self._rng.choice(("bid", "ask"))
        levels = self.book.side(side)
        action = self._rng.random()
        if action < 0.25 and len(levels) > MIN_LEVELS:
            change: Change = (side, self._rng.choice(sorted(levels)), Decimal(0))
        elif action < 0.5 and levels:
            change = (side, self._rng.choice(sorted(levels)), self._random_size())
        else:
            change = (side, self._new_price(side), self._random_size())
        self.book.apply([change])
        return change

    def _new_price(self, side: BookSide) -> Decimal:
        offset = min(self.spec.levels, int(self._rng.expovariate(0.25)))
        if side == "bid":
            price = self._price(max(1, self._fair_ticks - 1 - offset))
            best_ask = self.book.best("ask")
            return min(price, best_ask[0] - self.spec.tick) if best_ask else price
        price = self._price(self._fair_ticks + 1 + offset)
        best_bid = self.book.best("bid")
        return max(price, best_bid[0] + self.spec.tick) if best_bid else price

    def _keep_depth(self, changes: list[Change]) -> list[Change]:
        """Trim the farthest levels beyond `levels` and refill sides below the minimum."""
        extra: list[Change] = []
        for side in ("bid", "ask"):
            levels = self.book.side(side)
            while len(levels) > self.spec.levels:
                far = min(levels) if side == "bid" else max(levels)
                extra.append((side, far, Decimal(0)))
                self.book.apply([extra[-1]])
            while len(levels) < MIN_LEVELS:
                extra.append((side, self._new_price(side), self._random_size()))
                self.book.apply([extra[-1]])
        return extra

    @staticmethod
    def _merge(first: list[Change], second: list[Change]) -> list[Change]:
        """Later changes to a level win; each (side, price) appears once."""
        merged: dict[tuple[BookSide, Decimal], Decimal] = {}
        for side, price, size in [*first, *second]:
            merged.pop((side, price), None)
            merged[(side, price)] = size
        return [(side, price, size) for (side, price), size in merged.items()]

    def _mid(self) -> Decimal:
        bid, ask = self.book.best("bid"), self.book.best("ask")
        if bid and ask:
            return (bid[0] + ask[0]) / 2
        return self._fair_ticks * self.spec.tick


class MarketModel:
    """All symbols of one venue; each symbol gets its own rng derived from the venue's."""

    def __init__(self, specs: Iterable[SymbolSpec], rng: random.Random, rate_per_s: float) -> None:
        self.symbols: dict[str, SymbolModel] = {
            spec.symbol: SymbolModel(spec, random.Random(rng.getrandbits(64)), rate_per_s)
            for spec in specs
        }
        if not self.symbols:
            raise SimulatorConfigError("a venue needs at least one symbol")

    def step(self, now_ns: int) -> list[ModelEvent]:
        events = [ev for model in self.symbols.values() for ev in model.step(now_ns)]
        events.sort(key=lambda ev: ev.ts_ns)
        return events

    def get(self, symbol: str) -> SymbolModel | None:
        return self.symbols.get(symbol)


class TradeHistory:
    """The venue's own bounded trade history per symbol, served by its REST endpoints."""

    def __init__(self, symbols: Iterable[str], capacity: int) -> None:
        self._trades: dict[str, deque[ModelTrade]] = {s: deque(maxlen=capacity) for s in symbols}

    def record(self, events: Iterable[ModelEvent]) -> None:
        for ev in events:
            if isinstance(ev, ModelTrade):
                self._trades[ev.symbol].append(ev)

    def trades(self, symbol: str) -> deque[ModelTrade]:
        return self._trades.get(symbol, deque())

    def from_id(self, symbol: str, first_id: int, limit: int) -> list[ModelTrade]:
        """Trades with id >= first_id (ids are contiguous), oldest first."""
        trades = self.trades(symbol)
        if not trades:
            return []
        start = max(0, first_id - trades[0].trade_id)
        return [trades[i] for i in range(start, min(len(trades), start + limit))]
