"""spread_bps samples sort by (float, Fraction): exact order even where the floats tie."""

from __future__ import annotations

from decimal import Decimal

from mdc.features.base import BookSample, BookStep
from mdc.features.spread import SpreadStatistics

ONE = Decimal(1)
HALF = Decimal("0.5")


def _sample(ts_ns: int, mid: Decimal) -> BookSample:
    sample = BookSample.build(ts_ns, [(mid - HALF, ONE)], [(mid + HALF, ONE)])
    assert sample is not None
    return sample


def test_spread_bps_that_round_to_one_float_still_sort_exactly():
    # spread 1 around mids 1e17 + k: the bps differ by ~1e-30, far below a float's resolution
    samples = [_sample(i, Decimal(10**17 + k)) for i, k in enumerate((2, 0, 3, 1))]
    assert len({s.spread_bps_float for s in samples}) == 1
    statistics = SpreadStatistics((60 * 10**9,), (Decimal(50),))
    spreads = statistics.accumulator()
    for sample in samples:
        spreads.add(statistics.derive(BookStep(None, sample)))
    assert [exact for _, exact in spreads.spreads_bps] == sorted(s.spread_bps for s in samples)
    spreads.remove(statistics.derive(BookStep(None, samples[2])))
    assert [exact for _, exact in spreads.spreads_bps] == sorted(
        s.spread_bps for s in samples if s is not samples[2]
    )


def test_a_sample_with_the_previous_best_prices_reuses_its_spreads():
    first = _sample(1, Decimal(100))
    second = BookSample.build(2, [(Decimal("99.5"), Decimal(3))], [(Decimal("100.5"), ONE)], first)
    assert second is not None
    assert second.bids[0][1] == 3
    assert (second.mid, second.spread_abs, second.spread_bps) == (
        first.mid,
        first.spread_abs,
        first.spread_bps,
    )
    assert second.spread_bps is first.spread_bps
