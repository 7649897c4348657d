"""spread_stats_{W}: percentiles of spread_abs and spread_bps over the valid snapshots in (t-W, t].

One unweighted sample per snapshot; Hyndman-Fan type 7 (numpy "linear"), computed exactly on
sorted exact values (sortedcontainers: O(log n) insert, remove and index). Null when empty.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import ClassVar

from sortedcontainers import SortedList

from mdc.features.base import BookStep, Channel, FeatureName, Value, window_label, window_order


def percentile_label(p: Decimal) -> str:
    """50 -> 'p50', 99.9 -> 'p99.9'."""
    return "p" + format(p.normalize(), "f")


def type7_quantile(values: SortedList, p: Fraction) -> float | None:
    """Hyndman-Fan type 7 on sorted exact values, rounded once to float."""
    n = len(values)
    if n == 0:
        return None
    h = (n - 1) * p / 100
    lo = math.floor(h)
    x_lo = Fraction(values[lo])
    x_hi = Fraction(values[min(lo + 1, n - 1)])
    return float(x_lo + (h - lo) * (x_hi - x_lo))


@dataclass(slots=True)
class SpreadSamples:
    spreads_abs: SortedList = field(default_factory=SortedList)
    spreads_bps: SortedList = field(default_factory=SortedList)

    def add(self, value: tuple[Decimal, Fraction]) -> None:
        self.spreads_abs.add(value[0])
        self.spreads_bps.add(value[1])

    def remove(self, value: tuple[Decimal, Fraction]) -> None:
        self.spreads_abs.remove(value[0])
        self.spreads_bps.remove(value[1])


@dataclass(frozen=True)
class SpreadStatistics:
    channel: ClassVar[Channel] = "book"
    widths_ns: tuple[int, ...]
    percentiles: tuple[Decimal, ...]

    def names(self, width_ns: int) -> list[FeatureName]:
        label = window_label(width_ns)
        return [
            FeatureName(
                f"{unit}_{percentile_label(p)}_{label}", window_order(width_ns, "spread", i, p)
            )
            for i, unit in enumerate(("spread_abs", "spread_bps"))
            for p in self.percentiles
        ]

    def derive(self, item: BookStep) -> tuple[Decimal, Fraction]:
        return item.cur.spread_abs, item.cur.spread_bps

    def accumulator(self) -> SpreadSamples:
        return SpreadSamples()

    def emit(self, acc: SpreadSamples, width_ns: int, out: dict[str, Value]) -> None:
        label = window_label(width_ns)
        for p in self.percentiles:
            exact_p = Fraction(p)
            plabel = percentile_label(p)
            out[f"spread_abs_{plabel}_{label}"] = type7_quantile(acc.spreads_abs, exact_p)
            out[f"spread_bps_{plabel}_{label}"] = type7_quantile(acc.spreads_bps, exact_p)
