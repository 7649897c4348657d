"""The one check every venue's events pass at the parser boundary (`Venue.read`): each value fits
the store exactly and means what the venue's semantics allow.

Why at the parser: one trade priced NaN or 1E+400 once made every `mdc query` fail ("cannot be
represented as decimal128") with no way to remove the row, and an id of 10^40 crashed the WAL
encoder. So such a message is refused whole, as malformed, before books, trade ids or the store
see any of it (live it is dead-lettered, offline reported with its line number).

The store's columns (mdc/store/parquet.py): prices and sizes are DECIMAL(38,18), so at most 20
integer and 18 fractional digits; more fractional digits are refused, never rounded (trailing
zeros past 18 are exact and pass). Ids, counts and ns times are int64: 0 <= n < 2**63. Signs, by
meaning: trade price and size > 0; book level price > 0, size >= 0 (0 removes the level); quote
prices and sizes >= 0 (Alpaca reports an empty side as 0/0); bar prices > 0, volume >= 0.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Context, Decimal, DecimalException, Inexact, InvalidOperation, Overflow
from functools import partial
from operator import attrgetter

from mdc.events import Bar, BookDelta, BookSnapshot, Quote, Trade

INT64 = 2**63
"""Ids, counts and times are int64 columns (and msgpack ints in the WAL)."""
INTEGER_DIGITS = 20
FRACTION_DIGITS = 18
"""DECIMAL(38, 18), the store's prices and sizes."""

_ZERO = Decimal(0)
_QUANTUM = Decimal(1).scaleb(-FRACTION_DIGITS)
_WIDE = Context(prec=INTEGER_DIGITS + FRACTION_DIGITS + 2, traps=[])
_plus = Context(
    prec=FRACTION_DIGITS + 1,  # with Emin 0, the smallest exponent kept exactly is -18
    Emin=0,
    Emax=INTEGER_DIGITS - 1,
    traps=[Inexact, Overflow, InvalidOperation],
).plus
"""The fast test (~0.1 µs): raises for a value with more than 18 fractional or 20 integer digits
(or sNaN), keeps every other value of up to 19 significant digits. It cannot pass a bad value,
but it also raises for good ones with 20 digits or more, which `_decimal_problem` then accepts."""

Values = tuple
"""A rule's fields of one event, in the rule's order (None: a field the event does not have)."""


def _ids_pass(values: Values) -> bool:
    for value in values:  # noqa: SIM110 - a loop: all() over a generator costs ~3x here
        if value is not None and not 0 <= value < INT64:
            return False
    return True


def _id_problem(value: int | None) -> str | None:
    if value is None or 0 <= value < INT64:
        return None
    return f"{_shown(value)} does not fit the store's int64 (0 <= n < 2**63)"


def _amounts_pass(floor: Callable[[Decimal], bool]) -> Callable[[Values], bool]:
    """`floor` is `_ZERO.__lt__` (> 0) or `_ZERO.__le__` (>= 0); comparing NaN raises."""

    def passes(values: Values) -> bool:
        try:
            for value in values:
                if value is not None and not (floor(_plus(value)) and value.is_finite()):
                    return False
        except DecimalException:
            return False
        return True

    return passes


def _levels_pass(sides: Values) -> bool:
    """Every (price, size): price > 0, size >= 0, both storable."""
    try:
        for levels in sides:
            for price, size in levels:
                if not (
                    _plus(price) > _ZERO
                    and _plus(size) >= _ZERO
                    and price.is_finite()
                    and size.is_finite()
                ):
                    return False
    except DecimalException:
        return False
    return True


def _decimal_problem(value: Decimal | None, positive: bool) -> str | None:
    """The exact test, and the reason it fails."""
    if value is None:
        return None
    if not value.is_finite():
        return f"{value} is not a finite number"
    if value and value.adjusted() >= INTEGER_DIGITS:
        return f"{_shown(value)} has more than {INTEGER_DIGITS} integer digits"
    if value != value.quantize(_QUANTUM, context=_WIDE):
        return (
            f"{_shown(value)} has more than {FRACTION_DIGITS} fractional digits "
            "(the store keeps 18; refused, not rounded)"
        )
    if value < 0 or (positive and not value):
        return f"{value} must be {'> 0' if positive else '>= 0'}"
    return None


_positive_problem = partial(_decimal_problem, positive=True)
_non_negative_problem = partial(_decimal_problem, positive=False)


def _levels_problem(levels: tuple[tuple[Decimal, Decimal], ...]) -> str | None:
    for i, (price, size) in enumerate(levels):
        problem = _positive_problem(price)
        if problem is not None:
            return f"[{i}] price {problem}"
        problem = _non_negative_problem(size)
        if problem is not None:
            return f"[{i}] size {problem}"
    return None


def _shown(value: object) -> str:
    """Short enough for one stderr line, whatever the value's size."""
    if isinstance(value, int) and value.bit_length() > 160:
        return f"an integer of {value.bit_length()} bits"
    text = str(value)
    return text if len(text) <= 48 else f"{text[:24]}...({len(text)} characters)"


@dataclass(frozen=True, slots=True)
class _Kind:
    """What a kind of field must hold: `passes` decides fast for all of a rule's fields at once;
    `problem` names what is wrong with one value, exactly (None: nothing after all)."""

    passes: Callable[[Values], bool]
    problem: Callable[[object], str | None]


ID = _Kind(_ids_pass, _id_problem)
POSITIVE = _Kind(_amounts_pass(_ZERO.__lt__), _positive_problem)
NON_NEGATIVE = _Kind(_amounts_pass(_ZERO.__le__), _non_negative_problem)
LEVELS = _Kind(_levels_pass, _levels_problem)

_TIMES = ("ts_event", "ts_recv")
RULES: dict[type, tuple[tuple[tuple[str, ...], _Kind], ...]] = {
    Trade: (((*_TIMES, "trade_id"), ID), (("price", "size"), POSITIVE)),
    Quote: (
        ((*_TIMES, "update_id"), ID),
        (("bid_price", "bid_size", "ask_price", "ask_size"), NON_NEGATIVE),
    ),
    BookSnapshot: (((*_TIMES, "update_id", "checksum"), ID), (("bids", "asks"), LEVELS)),
    BookDelta: (
        ((*_TIMES, "first_update_id", "last_update_id", "checksum"), ID),
        (("bids", "asks"), LEVELS),
    ),
    Bar: (
        ((*_TIMES, "interval_s", "trade_count"), ID),
        (("open", "high", "low", "close", "vwap"), POSITIVE),
        (("volume",), NON_NEGATIVE),
    ),
}
"""Event type -> (fields, kind) rules; every field of a rule is read in one attrgetter call."""


def ratio(numerator: Decimal, denominator: Decimal) -> Decimal:
    """`numerator / denominator` for a value we derive (a bar's vwap): rounded to the store's 18
    fractional digits only when it has more (digits no venue sent, unlike a price); a value that
    does not fit anyway comes back as it is, for `problem` to refuse with its reason."""
    value = _WIDE.divide(numerator, denominator)
    if not value.is_finite() or value.adjusted() >= INTEGER_DIGITS:
        return value
    rounded = _WIDE.quantize(value, _QUANTUM)
    return value if rounded == value else rounded


def _getter(names: tuple[str, ...]) -> Callable[[object], Values]:
    get = attrgetter(*names)
    return get if len(names) > 1 else lambda event: (get(event),)


_PLANS = {
    kind: tuple((_getter(names), rule.passes, names, rule) for names, rule in rules)
    for kind, rules in RULES.items()
}


def problem(items: Iterable[object]) -> str | None:
    """Why the first event in `items` that the store cannot hold is refused; None when all are
    fine. Items without rules pass: controls, and the gaps and statuses a session makes."""
    for item in items:
        plan = _PLANS.get(type(item))
        if plan is None:
            continue
        for get, passes, names, rule in plan:
            values = get(item)
            if not passes(values):
                reason = _named_problem(names, values, rule)
                if reason is not None:
                    return f"{item.__struct_config__.tag} {reason}"
    return None


def _named_problem(names: tuple[str, ...], values: Values, rule: _Kind) -> str | None:
    for name, value in zip(names, values, strict=True):
        reason = rule.problem(value)
        if reason is not None:
            return f"{name}{'' if reason.startswith('[') else ' '}{reason}"
    return None
