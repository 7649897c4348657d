"""What extractors see (exact trade and book inputs) and the two shapes an extractor can take.

A *windowed* extractor derives one value per input on its channel (`derive`), keeps an exact
aggregate of those values per window width (`accumulator`), and turns a complete window's
aggregate into features (`emit`; the engine has already nulled incomplete windows). A *point*
extractor turns the latest valid book sample into features.
"""

from __future__ import annotations

from collections.abc import Sequence
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


class TradeInput(NamedTuple):
    ts_ns: int
    price: Decimal
    qty: Decimal
    side: int  # +1 buy aggressor, -1 sell aggressor, 0 unknown


class BookSample(NamedTuple):
    """One valid snapshot (both sides non-empty, positive, not crossed); levels best first.

    A NamedTuple, not a frozen dataclass: one is built per book update, and this is the cheaper
    immutable record.
    """

    ts_ns: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    mid: Decimal
    spread_abs: Decimal
    spread_bps: Fraction
    spread_bps_float: float  # float(spread_bps), rounded once

    @classmethod
    def build(
        cls,
        ts_ns: int,
        bids: Sequence[Level],
        asks: Sequence[Level],
        prev: BookSample | None = None,
    ) -> BookSample | None:
        """None for an invalid snapshot (which every feature drops). When the best prices equal
        `prev`'s, its mid and spreads are reused: most updates change only sizes or deeper
        levels, and the exact spread_bps is the costly part."""
        if not bids or not asks or bids[0][0] >= asks[0][0]:
            return None
        if min(map(min, bids)) <= 0 or min(map(min, asks)) <= 0:  # a price or size not positive
            return None
        bid, ask = bids[0][0], asks[0][0]
        if prev is not None and prev.bids[0][0] == bid and prev.asks[0][0] == ask:
            return cls(
                ts_ns,
                tuple(bids),
                tuple(asks),
                prev.mid,
                prev.spread_abs,
                prev.spread_bps,
                prev.spread_bps_float,
            )
        mid = exact.mul(exact.add(bid, ask), exact.HALF)
        spread_abs = exact.sub(ask, bid)
        spread_bps = _bps(spread_abs, mid)
        return cls(ts_ns, tuple(bids), tuple(asks), mid, spread_abs, spread_bps, float(spread_bps))


def _bps(spread_abs: Decimal, mid: Decimal) -> Fraction:
    """10_000 * spread_abs / mid, exactly, from the Decimals' integer ratios."""
    spread_num, spread_den = spread_abs.as_integer_ratio()
    mid_num, mid_den = mid.as_integer_ratio()
    return Fraction(10_000 * spread_num * mid_den, spread_den * mid_num)


class BookStep(NamedTuple):
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
