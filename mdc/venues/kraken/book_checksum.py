"""Kraken's book checksum (specs/exchanges.md 3.2), with each level's text kept between messages.

The CRC32 covers the top 10 asks ascending, then the top 10 bids descending, each level as its
price digits then its qty digits ('.' removed, leading zeros stripped). It is checked after every
message, but a message changes only a few of those 20 levels: the text of the others is reused.
Each level's text is cached with the price and size objects it was made for, and reused while
the book holds those very objects (checked by identity: equal Decimals can differ in their digits,
e.g. 1.0 and 1.00). When only the size changed, the price's digits are reused too.
"""

from __future__ import annotations

import zlib
from decimal import Decimal

from mdc.book import Book, checksum_text

CHECKSUM_LEVELS = 10


class Checksum:
    """`Checksum()(book)` -> Kraken's CRC32 of the book; one instance per venue connection."""

    __slots__ = ("_pieces", "limit")

    def __init__(self, limit: int = 10_000) -> None:
        # price -> (price, size, text, the price's own digits)
        self._pieces: dict[Decimal, tuple[Decimal, Decimal, str, str]] = {}
        self.limit = limit

    def __call__(self, book: Book) -> int:
        if len(self._pieces) > self.limit:
            self._pieces.clear()
        text = self._side(book.asks, book.ask_prices(CHECKSUM_LEVELS))
        text += self._side(book.bids, book.bid_prices(CHECKSUM_LEVELS))
        return zlib.crc32(text.encode())

    def _side(self, levels: dict[Decimal, Decimal], prices: list[Decimal]) -> str:
        get = self._pieces.get
        return "".join([
            piece[2] if (piece := get(price)) is not None and piece[1] is size
            and piece[0] is price else self._piece(price, size, piece)
            for price, size in zip(prices, map(levels.__getitem__, prices), strict=True)
        ])  # fmt: skip

    def _piece(
        self, price: Decimal, size: Decimal, known: tuple[Decimal, Decimal, str, str] | None
    ) -> str:
        head = known[3] if known is not None and known[0] is price else _digits(price)
        text = head + _digits(size)
        self._pieces[price] = (price, size, text, head)
        return text


def _digits(value: Decimal) -> str:
    """The digits as sent: `str` is the wire text unless it chose an exponent form."""
    text = str(value)
    if "E" in text:
        text = checksum_text(value)
    return text.replace(".", "").lstrip("0")
