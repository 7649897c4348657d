"""Exact arithmetic for running sums: every price/size stays exact until one float at emission.

Additions, subtractions and products of Decimals go through one local context whose precision is
the maximum, so they never round (and would trap if they ever did); quotients are taken as
Fractions and rounded once by `float()`. The process-wide decimal context is never touched.
"""

from __future__ import annotations

import decimal
from decimal import Decimal
from fractions import Fraction

EXACT = decimal.Context(
    prec=decimal.MAX_PREC,
    Emax=decimal.MAX_EMAX,
    Emin=decimal.MIN_EMIN,
    traps=[decimal.InvalidOperation, decimal.Inexact, decimal.DivisionByZero],
)
ZERO = Decimal(0)
HALF = Decimal("0.5")


# The context's own methods, bound once: they run on every trade and book sample.
add = EXACT.add
sub = EXACT.subtract
mul = EXACT.multiply


Exact = Decimal | Fraction | int


def ratio(numerator: Exact, denominator: Exact) -> float | None:
    """numerator / denominator rounded once to float64; None for 0/0-style undefined ratios."""
    if not denominator:
        return None
    return float(Fraction(numerator) / Fraction(denominator))
