"""L2 order book with exact prices: the one book every part (live, replay, verify) uses."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal
from itertools import islice

from sortedcontainers import SortedDict

from mdc.events import Level

ZERO = Decimal(0)


class Book:
    """Price levels of one symbol. Sizes are absolute; size 0 removes; removing a missing level is a
    no-op (venues do that routinely).

    Both sides are SortedDicts keyed by price; bids are read from the end, so best bid and best ask
    are O(1) and top-N is a slice.
    """

    __slots__ = ("asks", "bids")

    def __init__(self) -> None:
        self.bids: SortedDict = SortedDict()
        self.asks: SortedDict = SortedDict()

    def clear(self) -> None:
        self.bids.clear()
        self.asks.clear()

    def load(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        """Replace the whole book (a snapshot); zero-size levels in a snapshot are ignored."""
        self.bids = SortedDict((p, s) for p, s in bids if s)
        self.asks = SortedDict((p, s) for p, s in asks if s)

    def apply(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        _apply_side(self.bids, bids)
        _apply_side(self.asks, asks)

    def best_bid(self) -> Level | None:
        return self.bids.peekitem(-1) if self.bids else None

    def best_ask(self) -> Level | None:
        return self.asks.peekitem(0) if self.asks else None

    def top_bids(self, n: int | None = None) -> list[Level]:
        """Best first."""
        return list(islice(_items_reversed(self.bids), n))

    def top_asks(self, n: int | None = None) -> list[Level]:
        """Best first."""
        return list(islice(self.asks.items(), n))

    def top(self, n: int | None = None) -> tuple[list[Level], list[Level]]:
        return self.top_bids(n), self.top_asks(n)

    def is_crossed(self) -> bool:
        """Best bid at or above best ask: the book cannot be right (likely a missed removal)."""
        if not self.bids or not self.asks:
            return False
        return self.bids.peekitem(-1)[0] >= self.asks.peekitem(0)[0]

    def truncate(self, depth: int) -> None:
        """Keep the best `depth` levels per side (venues stop reporting levels pushed out of it)."""
        while len(self.bids) > depth:
            self.bids.popitem(0)
        while len(self.asks) > depth:
            self.asks.popitem(-1)

    def copy(self) -> Book:
        other = Book()
        other.bids = self.bids.copy()
        other.asks = self.asks.copy()
        return other

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Book):
            return NotImplemented
        return dict(self.bids) == dict(other.bids) and dict(self.asks) == dict(other.asks)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        bids, asks = self.top(3)
        return f"Book(bids={bids}..{len(self.bids)}, asks={asks}..{len(self.asks)})"


def _apply_side(side: SortedDict, levels: Iterable[Level]) -> None:
    for price, size in levels:
        if size:
            side[price] = size
        else:
            side.pop(price, None)


def _items_reversed(side: SortedDict) -> Iterator[Level]:
    for price in reversed(side.keys()):
        yield price, side[price]


def checksum_text(value: Decimal) -> str:
    """Decimal as plain text, the way it was sent (no exponent), for venue checksum strings."""
    return format(value, "f")
