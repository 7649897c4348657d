"""What extractors see (exact trade and book inputs) and the two shapes an extractor can take.

A *windowed* extractor derives one value per input on its channel (`derive`), keeps an exact
aggregate of those values per window width (`accumulator`), and turns a complete window's
aggregate into features (`emit`; the engine has already nulled incomplete windows). A *point*
extractor turns the latest valid book sample into features.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any, ClassVar, Literal, NamedTuple, Protocol

from mdc.features import exact

Level = tuple[Decimal, Decimal]
Value = float | int | None
Channel = Literal["trades", "book"]

MINUTE_NS = 60 * 10**9
UNITS_NS: dict[str, int] = {"d": 86_400 * 10**9, "h": 3_600 * 10**9, "m": MINUTE_NS, "s": 10**9}

# Output order: point-in-time features first, then by window width, then this order per width
# (which reproduces the key order of features_reference.json).
POINT_ORDER = ("microprice", "order_imbalance")
WINDOW_ORDER = ("trade_flow_count", "vwap", "trade_flow_qty", "ofi", "rv", "spread")


class FeatureName(NamedTuple):
    name: str
    order: tuple[Any, ...]


def window_label(width_ns: int) -> str:
    """300e9 -> '5m', 3600e9 -> '1h': the largest unit that divides the width exactly."""
    for unit, size in UNITS_NS.items():
        if width_ns % size == 0:
            return f"{width_ns // size}{unit}"
    raise ValueError(f"window {width_ns} ns is not a whole number of seconds")


@dataclass(frozen=True, slots=True)
class TradeInput:
    ts_ns: int
    price: Decimal
    qty: Decimal
    side: int  # +1 buy aggressor, -1 sell aggressor, 0 unknown


@dataclass(frozen=True, slots=True)
class BookSample:
    """One valid snapshot (both sides non-empty, positive, not crossed); levels best first."""

    ts_ns: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    mid: Decimal
    spread_abs: Decimal

    @classmethod
    def build(cls, ts_ns: int, bids: Sequence[Level], asks: Sequence[Level]) -> BookSample | None:
        """None for an invalid snapshot (which every feature drops)."""
        if not bids or not asks or bids[0][0] >= asks[0][0]:
            return None
        if any(p <= 0 or q <= 0 for p, q in (*bids, *asks)):
            return None
        bid, ask = bids[0][0], asks[0][0]
        mid = exact.mul(exact.add(bid, ask), exact.HALF)
        return cls(ts_ns, tuple(bids), tuple(asks), mid, exact.sub(ask, bid))

    @property
    def spread_bps(self) -> Fraction:
        return 10_000 * Fraction(self.spread_abs) / Fraction(self.mid)


@dataclass(frozen=True, slots=True)
class BookStep:
    """A valid sample and its valid predecessor (None for the first one after start or a gap)."""

    prev: BookSample | None
    cur: BookSample


class WindowedExtractor(Protocol):
    channel: ClassVar[Channel]
    widths_ns: tuple[int, ...]

    def names(self, width_ns: int) -> list[FeatureName]: ...

    def derive(self, item: Any) -> Any: ...

    def accumulator(self) -> Any: ...

    def emit(self, acc: Any, width_ns: int, out: dict[str, Value]) -> None: ...


class PointExtractor(Protocol):
    def names(self) -> list[FeatureName]: ...

    def emit(self, sample: BookSample | None, out: dict[str, Value]) -> None: ...


def window_order(width_ns: int, kind: str, *rest: Any) -> tuple[Any, ...]:
    return (1, width_ns, WINDOW_ORDER.index(kind), *rest)


def point_order(kind: str, *rest: Any) -> tuple[Any, ...]:
    return (0, POINT_ORDER.index(kind), *rest)
