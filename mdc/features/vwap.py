"""rolling_vwap_{W}: sum(p*q) / sum(q) over the trades in (t-W, t]; null when there are none."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar

from mdc.features import exact
from mdc.features.base import Channel, FeatureName, TradeInput, Value, window_label, window_order


@dataclass(slots=True)
class VwapSums:
    notional: Decimal = exact.ZERO
    qty: Decimal = exact.ZERO

    def add(self, value: tuple[Decimal, Decimal]) -> None:
        self.notional = exact.add(self.notional, value[0])
        self.qty = exact.add(self.qty, value[1])

    def remove(self, value: tuple[Decimal, Decimal]) -> None:
        self.notional = exact.sub(self.notional, value[0])
        self.qty = exact.sub(self.qty, value[1])


@dataclass(frozen=True)
class Vwap:
    channel: ClassVar[Channel] = "trades"
    widths_ns: tuple[int, ...]

    def names(self, width_ns: int) -> list[FeatureName]:
        return [FeatureName(f"vwap_{window_label(width_ns)}", window_order(width_ns, "vwap"))]

    def derive(self, item: TradeInput) -> tuple[Decimal, Decimal]:
        return exact.mul(item.price, item.qty), item.qty

    def accumulator(self) -> VwapSums:
        return VwapSums()

    def emit(self, acc: VwapSums, width_ns: int, out: dict[str, Value]) -> None:
        out[f"vwap_{window_label(width_ns)}"] = exact.ratio(acc.notional, acc.qty)
