"""spread_stats_{W}: percentiles of spread_abs and spread_bps over the valid snapshots in (t-W, t].

One unweighted sample per snapshot; Hyndman-Fan type 7 (numpy "linear"), computed exactly on
sorted exact values (sortedcontainers: O(log n) insert, remove and index). Null when empty.

spread_bps is a Fraction, whose comparisons are slow, so its list holds `(float, Fraction)`
pairs: float() rounds monotonically, so the pairs sort exactly like the Fractions while all but
float ties are settled by the float.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from operator import itemgetter
from typing import Any, ClassVar

from sortedcontainers import SortedList

from mdc.features.base import BookStep, Channel, FeatureName, Value, window_label, window_order

BpsKey = tuple[float, Fraction]  # (float(spread_bps), spread_bps)
_exact_bps: Callable[[BpsKey], Fraction] = itemgetter(1)


def percentile_label(p: Decimal) -> str:
    """50 -> 'p50', 99.9 -> 'p99.9'."""
    return "p" + format(p.normalize(), "f")


def type7_quantile(
    values: SortedList, p: Fraction, exact_value: Callable[[Any], Fraction] = Fraction
) -> float | None:
    """Hyndman-Fan type 7 on sorted values (exactly `exact_value` of each), rounded once."""
    n = len(values)
    if n == 0:
        return None
    h = (n - 1) * p / 100
    lo = math.floor(h)
    x_lo = exact_value(values[lo])
    x_hi = exact_value(values[min(lo + 1, n - 1)])
    return float(x_lo + (h - lo) * (x_hi - x_lo))


@dataclass(slots=True)
class SpreadSamples:
    spreads_abs: SortedList = field(default_factory=SortedList)
    spreads_bps: SortedList = field(default_factory=SortedList)  # of BpsKey

    def add(self, value: tuple[Decimal, BpsKey]) -> None:
        self.spreads_abs.add(value[0])
        self.spreads_bps.add(value[1])

    def remove(self, value: tuple[Decimal, BpsKey]) -> None:
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

    def derive(self, item: BookStep) -> tuple[Decimal, BpsKey]:
        cur = item.cur
        return cur.spread_abs, (cur.spread_bps_float, cur.spread_bps)

    def accumulator(self) -> SpreadSamples:
        return SpreadSamples()

    def emit(self, acc: SpreadSamples, width_ns: int, out: dict[str, Value]) -> None:
        label = window_label(width_ns)
        for p in self.percentiles:
            exact_p = Fraction(p)
            plabel = percentile_label(p)
            out[f"spread_abs_{plabel}_{label}"] = type7_quantile(acc.spreads_abs, exact_p)
            out[f"spread_bps_{plabel}_{label}"] = type7_quantile(
                acc.spreads_bps, exact_p, _exact_bps
            )
