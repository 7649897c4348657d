"""Point-in-time level-1 features of the latest valid snapshot at or before t: mid, spread_abs,
spread_bps, l1_imbalance and weighted_mid (the imbalance-weighted mid, which is Stoikov's
"weighted mid-price"; his micro-price proper is a fitted model and not computed here).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from mdc.features.base import BookSample, FeatureName, Value, point_order

NAMES = ("mid", "spread_abs", "spread_bps", "l1_imbalance", "weighted_mid")


@dataclass(frozen=True)
class Microprice:
    def names(self) -> list[FeatureName]:
        return [FeatureName(n, point_order("microprice", i)) for i, n in enumerate(NAMES)]

    def emit(self, sample: BookSample | None, out: dict[str, Value]) -> None:
        if sample is None:
            out.update(dict.fromkeys(NAMES))
            return
        (bid, bid_qty), (ask, ask_qty) = sample.bids[0], sample.asks[0]
        qb, qa = Fraction(bid_qty), Fraction(ask_qty)
        out["mid"] = float(sample.mid)
        out["spread_abs"] = float(sample.spread_abs)
        out["spread_bps"] = sample.spread_bps_float
        out["l1_imbalance"] = float(qb / (qb + qa))
        out["weighted_mid"] = float((qb * Fraction(ask) + qa * Fraction(bid)) / (qb + qa))
