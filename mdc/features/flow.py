"""trade_flow_{W}: trade count and intensity, and (with aggressor_side) buy/sell/net quantity and
flow imbalance, over the trades in (t-W, t].

Counts and quantities are sums (an empty, fully observed window gives 0); flow_imbalance is a
ratio, null when no trade has a known side.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import ClassVar

from mdc.features import exact
from mdc.features.base import Channel, FeatureName, TradeInput, Value, window_label, window_order

_NS_PER_S = 10**9
_COUNT_NAMES = ("trade_count", "trade_intensity")
_SIDE_NAMES = ("buy_qty", "sell_qty", "net_flow", "flow_imbalance")


@dataclass(slots=True)
class FlowSums:
    count: int = 0
    buy: Decimal = exact.ZERO
    sell: Decimal = exact.ZERO

    def add(self, value: tuple[int, Decimal]) -> None:
        side, qty = value
        self.count += 1
        if side > 0:
            self.buy = exact.add(self.buy, qty)
        elif side < 0:
            self.sell = exact.add(self.sell, qty)

    def remove(self, value: tuple[int, Decimal]) -> None:
        side, qty = value
        self.count -= 1
        if side > 0:
            self.buy = exact.sub(self.buy, qty)
        elif side < 0:
            self.sell = exact.sub(self.sell, qty)


@dataclass(frozen=True)
class TradeFlow:
    channel: ClassVar[Channel] = "trades"
    widths_ns: tuple[int, ...]
    aggressor_side: bool = True

    def names(self, width_ns: int) -> list[FeatureName]:
        label = window_label(width_ns)
        names = [
            FeatureName(f"{n}_{label}", window_order(width_ns, "trade_flow_count", i))
            for i, n in enumerate(_COUNT_NAMES)
        ]
        if self.aggressor_side:
            names += [
                FeatureName(f"{n}_{label}", window_order(width_ns, "trade_flow_qty", i))
                for i, n in enumerate(_SIDE_NAMES)
            ]
        return names

    def derive(self, item: TradeInput) -> tuple[int, Decimal]:
        return item.side, item.qty

    def accumulator(self) -> FlowSums:
        return FlowSums()

    def emit(self, acc: FlowSums, width_ns: int, out: dict[str, Value]) -> None:
        label = window_label(width_ns)
        out[f"trade_count_{label}"] = acc.count
        out[f"trade_intensity_{label}"] = float(Fraction(acc.count * _NS_PER_S, width_ns))
        if self.aggressor_side:
            net = exact.sub(acc.buy, acc.sell)
            out[f"buy_qty_{label}"] = float(acc.buy)
            out[f"sell_qty_{label}"] = float(acc.sell)
            out[f"net_flow_{label}"] = float(net)
            out[f"flow_imbalance_{label}"] = exact.ratio(net, exact.add(acc.buy, acc.sell))
