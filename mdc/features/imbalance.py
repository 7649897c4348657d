"""order_imbalance_l{N}: (sum of bid qty - sum of ask qty) / (their total) over the best N levels
of the latest valid snapshot at or before t; prices ignored, fewer levels used if fewer exist."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from mdc.features import exact
from mdc.features.base import BookSample, FeatureName, Value, point_order


@dataclass(frozen=True)
class OrderImbalance:
    depth_levels: int = 5

    @property
    def name(self) -> str:
        return f"order_imbalance_l{self.depth_levels}"

    def names(self) -> list[FeatureName]:
        return [FeatureName(self.name, point_order("order_imbalance", self.depth_levels))]

    def emit(self, sample: BookSample | None, out: dict[str, Value]) -> None:
        if sample is None:
            out[self.name] = None
            return
        bid_qty = _total(q for _, q in sample.bids[: self.depth_levels])
        ask_qty = _total(q for _, q in sample.asks[: self.depth_levels])
        out[self.name] = exact.ratio(exact.sub(bid_qty, ask_qty), exact.add(bid_qty, ask_qty))


def _total(quantities: Iterable[Decimal]) -> Decimal:
    total = exact.ZERO
    for q in quantities:
        total = exact.add(total, q)
    return total
