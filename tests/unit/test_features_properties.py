"""Streaming features equal a naive recompute-from-scratch (exact Fractions, 60-digit logs) on
random streams, for a non-default configuration (other widths, percentiles and depth)."""

from __future__ import annotations

import decimal
import math
from decimal import Decimal
from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mdc.features import FeatureConfig, FeatureEngine

S = 10**9
START = 1_700_000_000 * S
WIDTHS = {"1m": 60 * S, "7m": 420 * S}
PCTS = ("p0", "p25", "p50", "p99.9", "p100")
DEPTH = 3
CONFIG = FeatureConfig.from_entries(
    [
        {"name": "v", "type": "VWAP", "windows": ["1m", "7m"]},
        {"name": "f", "type": "OrderFlow", "windows": ["7m", "1m"], "aggressor_side": True},
        {"name": "i", "type": "OrderImbalance", "depth_levels": DEPTH},
        {"name": "s", "type": "SpreadStatistics", "windows": ["1m", "7m"],
         "percentiles": [0, 25, 50, 99.9, 100]},
        {"name": "m", "type": "Microprice"},
        {"name": "o", "type": "OrderFlowImbalance", "windows": ["1m", "7m"]},
        {"name": "r", "type": "RealizedVolatility", "windows": ["1m", "7m"]},
    ]
)  # fmt: skip


def _quantile(values: list[Fraction], p: Fraction) -> float | None:
    if not values:
        return None
    xs = sorted(values)
    h = (len(xs) - 1) * p / 100
    lo = math.floor(h)
    return float(xs[lo] + (h - lo) * (xs[min(lo + 1, len(xs) - 1)] - xs[lo]))


def _valid(bids, asks) -> bool:
    return bool(bids and asks) and bids[0][0] < asks[0][0]


def _e(prev, cur) -> Fraction:
    (pb0, qb0), (pa0, qa0) = prev[1][0], prev[2][0]
    (pb1, qb1), (pa1, qa1) = cur[1][0], cur[2][0]
    return Fraction(
        (qb1 if pb1 >= pb0 else 0)
        - (qb0 if pb1 <= pb0 else 0)
        - (qa1 if pa1 <= pa0 else 0)
        + (qa0 if pa1 >= pa0 else 0)
    )


def _mid(snap) -> Fraction:
    return (Fraction(snap[1][0][0]) + Fraction(snap[2][0][0])) / 2


def _ln_ratio_sq(prev, cur) -> Decimal:
    with decimal.localcontext() as ctx:
        ctx.prec = 60
        a, b = _mid(cur), _mid(prev)
        r = (Decimal(a.numerator) / Decimal(a.denominator)).ln() - (
            Decimal(b.numerator) / Decimal(b.denominator)
        ).ln()
        return r * r


def naive(trades, snaps, t: int) -> dict:
    """Every feature from scratch with exact rationals."""
    out: dict = {}
    valid = [s for s in snaps if _valid(s[1], s[2]) and s[0] <= t]
    steps = [(valid[i - 1] if i else None, valid[i]) for i in range(len(valid))]
    first = valid[0][0] if valid else None
    for label, w in WIDTHS.items():
        trade_ok = t - w >= START
        book_ok = trade_ok and first is not None and (first == START or first <= t - w)
        inside = [tr for tr in trades if t - w < tr[0] <= t]
        buy = sum((Fraction(q) for _, _, q, s in inside if s > 0), Fraction(0))
        sell = sum((Fraction(q) for _, _, q, s in inside if s < 0), Fraction(0))
        qty = sum((Fraction(q) for _, _, q, _ in inside), Fraction(0))
        pq = sum((Fraction(p) * Fraction(q) for _, p, q, _ in inside), Fraction(0))
        values = {
            f"trade_count_{label}": len(inside),
            f"trade_intensity_{label}": float(Fraction(len(inside) * S, w)),
            f"vwap_{label}": float(pq / qty) if qty else None,
            f"buy_qty_{label}": float(buy),
            f"sell_qty_{label}": float(sell),
            f"net_flow_{label}": float(buy - sell),
            f"flow_imbalance_{label}": float((buy - sell) / (buy + sell)) if buy + sell else None,
        }
        out.update(values if trade_ok else dict.fromkeys(values))
        in_book = [(p, c) for p, c in steps if t - w < c[0] <= t]
        rv2 = sum((_ln_ratio_sq(p, c) for p, c in in_book if p is not None), Decimal(0))
        abs_values = [Fraction(c[2][0][0]) - Fraction(c[1][0][0]) for _, c in in_book]
        bps_values = [10_000 * (Fraction(c[2][0][0]) - Fraction(c[1][0][0])) / _mid(c)
                      for _, c in in_book]  # fmt: skip
        values = {
            f"ofi_{label}": float(sum((_e(p, c) for p, c in in_book if p), Fraction(0))),
            f"rv_{label}": float(rv2.sqrt(decimal.Context(prec=60))),
        }
        for unit, samples in (("spread_abs", abs_values), ("spread_bps", bps_values)):
            for name in PCTS:
                values[f"{unit}_{name}_{label}"] = _quantile(samples, Fraction(Decimal(name[1:])))
        out.update(values if book_ok else dict.fromkeys(values))
    latest = valid[-1] if valid else None
    if latest is None:
        out.update(dict.fromkeys(("mid", "spread_abs", "spread_bps", "l1_imbalance",
                                  "weighted_mid", f"order_imbalance_l{DEPTH}")))  # fmt: skip
        return out
    (pb, qb), (pa, qa) = (tuple(map(Fraction, lv)) for lv in (latest[1][0], latest[2][0]))
    bid_total = sum(Fraction(q) for _, q in latest[1][:DEPTH])
    ask_total = sum(Fraction(q) for _, q in latest[2][:DEPTH])
    out |= {
        "mid": float((pb + pa) / 2),
        "spread_abs": float(pa - pb),
        "spread_bps": float(10_000 * (pa - pb) / ((pb + pa) / 2)),
        "l1_imbalance": float(qb / (qb + qa)),
        "weighted_mid": float((qb * pa + qa * pb) / (qb + qa)),
        f"order_imbalance_l{DEPTH}": float((bid_total - ask_total) / (bid_total + ask_total)),
    }
    return out


_price = st.integers(9_990, 10_010).map(lambda c: Decimal(c).scaleb(-2))
_qty = st.integers(1, 5_000).map(lambda k: Decimal(k).scaleb(-3))


@st.composite
def streams(draw):
    """(kind, ts, payload) in time order, ~0-25 minutes, and increasing query times."""
    n = draw(st.integers(0, 60))
    ts = START + draw(st.sampled_from([0, 0, 7 * S, 200 * S]))
    events = []
    for _ in range(n):
        ts += draw(st.sampled_from([0, 1, S, 10 * S, 30 * S, 60 * S, 120 * S]))
        if draw(st.booleans()):
            side = draw(st.sampled_from([1, -1, 0]))
            events.append(("trade", ts, (draw(_price), draw(_qty), side)))
        else:
            best_bid = draw(st.integers(9_990, 10_010))
            gap = draw(st.sampled_from([1, 1, 2, 5, 0, -1]))  # 0 / -1: locked / crossed
            depth = draw(st.integers(0, 4))
            bids = tuple((Decimal(best_bid - i).scaleb(-2), draw(_qty)) for i in range(depth))
            asks = tuple(
                (Decimal(best_bid + gap + i).scaleb(-2), draw(_qty))
                for i in range(draw(st.integers(0, 4)) if depth else depth)
            )
            events.append(("book", ts, (bids, asks)))
    end = ts + 10 * 60 * S
    # Boundaries matter most: queries at event times, and exactly one window width after them.
    edges = [e[1] + w for e in events for w in (0, *WIDTHS.values())] or [START]
    picked = draw(st.lists(st.sampled_from(edges), max_size=4))
    randoms = draw(st.lists(st.integers(START, end), min_size=1, max_size=3))
    queries = sorted(picked + randoms)
    return events, queries


def _close(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams())
def test_streaming_equals_recompute_from_scratch(stream):
    events, queries = stream
    engine = FeatureEngine(CONFIG, START)
    trades, snaps = [], []
    fed = 0
    for t in queries:
        while fed < len(events) and events[fed][1] <= t:
            kind, ts, payload = events[fed]
            if kind == "trade":
                engine.on_trade(ts, *payload)
                trades.append((ts, *payload))
            else:
                engine.on_book(ts, *payload)
                snaps.append((ts, *payload))
            fed += 1
        got, want = engine.values(t), naive(trades, snaps, t)
        assert set(got) == set(want) == set(CONFIG.names)
        bad = {k: (got[k], want[k]) for k in want if not _close(got[k], want[k])}
        assert not bad, f"t={t}: {bad}"
        counts = [k for k in got if k.startswith("trade_count") and got[k] is not None]
        assert all(type(got[k]) is int for k in counts)
