"""ofi_{W}: order flow imbalance at the best level (Cont, Kukanov & Stoikov 2014).

e_n compares valid snapshot n with its valid predecessor (which may lie before the window) and is
stamped at ts_n; OFI_W sums e_n over (t-W, t], exactly. A sum: an empty window gives 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar

from mdc.features import exact
from mdc.features.base import BookStep, Channel, FeatureName, Value, window_label, window_order


def order_flow_event(step: BookStep) -> Decimal | None:
    """e_n for one step; None for a sample without a predecessor."""
    if step.prev is None:
        return None
    (pb0, qb0), (pa0, qa0) = step.prev.bids[0], step.prev.asks[0]
    (pb1, qb1), (pa1, qa1) = step.cur.bids[0], step.cur.asks[0]
    e = exact.ZERO
    if pb1 >= pb0:
        e = exact.add(e, qb1)
    if pb1 <= pb0:
        e = exact.sub(e, qb0)
    if pa1 <= pa0:
        e = exact.sub(e, qa1)
    if pa1 >= pa0:
        e = exact.add(e, qa0)
    return e


@dataclass(slots=True)
class ExactSum:
    total: Decimal = exact.ZERO

    def add(self, value: Decimal | None) -> None:
        if value is not None:
            self.total = exact.add(self.total, value)

    def remove(self, value: Decimal | None) -> None:
        if value is not None:
            self.total = exact.sub(self.total, value)


@dataclass(frozen=True)
class OrderFlowImbalance:
    channel: ClassVar[Channel] = "book"
    widths_ns: tuple[int, ...]

    def names(self, width_ns: int) -> list[FeatureName]:
        return [FeatureName(f"ofi_{window_label(width_ns)}", window_order(width_ns, "ofi"))]

    def derive(self, item: BookStep) -> Decimal | None:
        return order_flow_event(item)

    def accumulator(self) -> ExactSum:
        return ExactSum()

    def emit(self, acc: ExactSum, width_ns: int, out: dict[str, Value]) -> None:
        out[f"ofi_{window_label(width_ns)}"] = float(acc.total)
