"""L2 order book with exact prices: the one book every part (live, replay, verify) uses."""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable
from decimal import Decimal

from mdc.events import Level


class Book:
    """Price levels of one symbol. Sizes are absolute; size 0 removes; removing a missing level is a
    no-op (venues do that routinely).

    Each side is a plain dict (price -> size) plus an ascending list of its prices kept with bisect:
    updating an existing level, the common case, is one dict store; best prices and top-N are
    slices. (sortedcontainers' SortedDict did the same with more layers, and cost most of the
    per-level time.)
    """

    __slots__ = ("_ask_prices", "_bid_prices", "asks", "bids")

    def __init__(self) -> None:
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self._bid_prices: list[Decimal] = []
        self._ask_prices: list[Decimal] = []

    def clear(self) -> None:
        self.bids, self.asks = {}, {}
        self._bid_prices, self._ask_prices = [], []

    def load(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        """Replace the whole book (a snapshot); zero-size levels in a snapshot are ignored."""
        self.bids = {p: s for p, s in bids if s}
        self.asks = {p: s for p, s in asks if s}
        self._bid_prices = sorted(self.bids)
        self._ask_prices = sorted(self.asks)

    def apply(self, bids: Iterable[Level], asks: Iterable[Level]) -> bool:
        """Apply one update's levels; returns whether the book is crossed now (`is_crossed`,
        answered here because the hot path asks after every update and a call costs more)."""
        bid_prices, ask_prices = self._bid_prices, self._ask_prices
        if bids:
            _apply_side(self.bids, bid_prices, bids)
        if asks:
            _apply_side(self.asks, ask_prices, asks)
        return bool(bid_prices and ask_prices) and bid_prices[-1] >= ask_prices[0]

    def best_bid(self) -> Level | None:
        if not self._bid_prices:
            return None
        price = self._bid_prices[-1]
        return price, self.bids[price]

    def best_ask(self) -> Level | None:
        if not self._ask_prices:
            return None
        price = self._ask_prices[0]
        return price, self.asks[price]

    def top_bids(self, n: int | None = None) -> list[Level]:
        """Best first."""
        prices = self._bid_prices if n is None else self._bid_prices[-n:] if n > 0 else []
        bids = self.bids
        return [(p, bids[p]) for p in reversed(prices)]

    def top_asks(self, n: int | None = None) -> list[Level]:
        """Best first."""
        asks = self.asks
        return [(p, asks[p]) for p in self._ask_prices[:n]]

    def bid_prices(self, n: int) -> list[Decimal]:
        """The best `n` bid prices, best first."""
        return self._bid_prices[: -n - 1 : -1]

    def ask_prices(self, n: int) -> list[Decimal]:
        """The best `n` ask prices, best first."""
        return self._ask_prices[:n]

    def top(self, n: int | None = None) -> tuple[list[Level], list[Level]]:
        return self.top_bids(n), self.top_asks(n)

    def is_crossed(self) -> bool:
        """Best bid at or above best ask: the book cannot be right (likely a missed removal)."""
        return bool(self._bid_prices and self._ask_prices) and (
            self._bid_prices[-1] >= self._ask_prices[0]
        )

    def truncate(self, depth: int) -> None:
        """Keep the best `depth` levels per side (venues stop reporting levels pushed out of it)."""
        if len(self._bid_prices) > depth:
            cut = len(self._bid_prices) - depth
            for price in self._bid_prices[:cut]:
                del self.bids[price]
            del self._bid_prices[:cut]
        if len(self._ask_prices) > depth:
            for price in self._ask_prices[depth:]:
                del self.asks[price]
            del self._ask_prices[depth:]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Book):
            return NotImplemented
        return self.bids == other.bids and self.asks == other.asks

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        bids, asks = self.top(3)
        return f"Book(bids={bids}..{len(self.bids)}, asks={asks}..{len(self.asks)})"


def _apply_side(
    levels: dict[Decimal, Decimal], prices: list[Decimal], changes: Iterable[Level]
) -> None:
    for price, size in changes:
        if size:
            if price not in levels:
                insort(prices, price)
            levels[price] = size
        elif price in levels:
            del levels[price]
            del prices[bisect_left(prices, price)]


def checksum_text(value: Decimal) -> str:
    """Decimal as plain text, the way it was sent (no exponent), for venue checksum strings."""
    return format(value, "f")
