"""Alert conditions: a small safe language, parsed and type-checked once, compiled to closures.

Never `eval`: the grammar below is all there is. Numbers are exact (`Decimal`), durations are
int nanoseconds (`5 minutes`, `30 seconds`, `500ms`), strings are quoted. An unknown value (a
field not seen yet, a division by zero) makes every comparison with it unknown, and a condition
that is unknown does not hold.

    condition  := or_expr ["for" duration]
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | comparison
    comparison := sum [("<" | "<=" | ">" | ">=" | "==" | "!=") sum]
    sum        := term (("+" | "-") term)*
    term       := unary (("*" | "/") unary)*
    unary      := "-" unary | primary
    primary    := number [unit] | string | field | func "(" or_expr ("," or_expr)* ")"
                | "(" or_expr ")"
"""

from __future__ import annotations

import enum
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, DivisionByZero, InvalidOperation
from typing import Any

from mdc.errors import ConfigError


class Kind(enum.Enum):
    """What a value is; checked when the rule loads, so a rule never fails while it runs."""

    NUMBER = "a number"
    DURATION = "a duration"
    STRING = "a string"
    BOOL = "a true/false condition"


Value = Decimal | int | str | bool | None
Compiled = Callable[[Any], Value]
"""A compiled expression: the field source in, the value (None when unknown) out."""


class ConditionError(ConfigError):
    """A condition that does not parse or type-check; `column` is 1-based."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(message)
        self.message, self.column = message, column


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """A stream field a condition may read: its kind and how to read it from the source."""

    kind: Kind
    read: Callable[[Any], Value]


@dataclass(frozen=True, slots=True)
class Typed:
    kind: Kind
    fn: Compiled
    fields: frozenset[str]


@dataclass(frozen=True, slots=True)
class Condition:
    """A parsed condition: `holds(source)` is True, False or None (unknown); `value(source)` is
    the number the alert reports (the left side of its first comparison)."""

    text: str
    holds: Compiled
    value: Compiled
    value_kind: Kind
    fields: frozenset[str]
    for_ns: int


UNITS_NS: dict[str, int] = {
    **dict.fromkeys(("ms", "millisecond", "milliseconds"), 1_000_000),
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1_000_000_000),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60_000_000_000),
    **dict.fromkeys(("h", "hour", "hours"), 3_600_000_000_000),
    **dict.fromkeys(("d", "day", "days"), 86_400_000_000_000),
}

_TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+(?:\.\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<string>'[^']*'|\"[^\"]*\")|(?P<op><=|>=|==|!=|[-+*/<>(),]))"
)
_KEYWORDS = {"and", "or", "not", "for"}
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # number, name, string, op, end
    text: str
    column: int


def _tokens(text: str) -> list[_Token]:
    out, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            if text[pos:].strip() == "":
                break
            column = pos + 1 + len(text[pos:]) - len(text[pos:].lstrip())
            raise ConditionError(f"unexpected character {text[column - 1]!r}", column)
        kind = match.lastgroup or "op"
        out.append(_Token(kind, match.group(kind), match.start(kind) + 1))
        pos = match.end()
    out.append(_Token("end", "", len(text) + 1))
    return out


def parse_duration(text: str) -> int:
    """'5 minutes', '30s', '1.5 hours' -> ns; ValueError naming what is accepted."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]+)\s*", text)
    if match is None or match.group(2).lower() not in UNITS_NS:
        raise ValueError(f"not a duration: {text!r} (say e.g. '30 seconds', '5 minutes', '1h')")
    return int(Decimal(match.group(1)) * UNITS_NS[match.group(2).lower()])


def parse_condition(text: str, fields: Mapping[str, FieldSpec]) -> Condition:
    """The condition compiled, or ConditionError with the column where it goes wrong."""
    parser = _Parser(_tokens(text), fields)
    body = parser.or_expr()
    for_ns = 0
    if parser.peek().text == "for":
        parser.take()
        for_ns = parser.duration_literal()
    end = parser.peek()
    if end.kind != "end":
        raise ConditionError(f"unexpected {end.text!r}", end.column)
    if body.kind is not Kind.BOOL:
        raise ConditionError(f"the condition is {body.kind.value}, not a comparison", 1)
    value = parser.first_comparison_side or body
    return Condition(text, body.fn, value.fn, value.kind, body.fields, for_ns)


class _Parser:
    def __init__(self, tokens: list[_Token], fields: Mapping[str, FieldSpec]) -> None:
        self.tokens, self.fields, self.at = tokens, fields, 0
        self.first_comparison_side: Typed | None = None

    def peek(self) -> _Token:
        return self.tokens[self.at]

    def take(self) -> _Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def expect(self, text: str) -> None:
        token = self.take()
        if token.text != text:
            found = "the end" if token.kind == "end" else repr(token.text)
            raise ConditionError(f"expected {text!r}, found {found}", token.column)

    def or_expr(self) -> Typed:
        return self._logical("or", self.and_expr, _or)

    def and_expr(self) -> Typed:
        return self._logical("and", self.not_expr, _and)

    def _logical(self, word: str, operand: Callable[[], Typed], combine: Callable) -> Typed:
        left = operand()
        while self.peek().text == word:
            token = self.take()
            right = operand()
            for side in (left, right):
                _need(side, Kind.BOOL, f"'{word}'", token.column)
            left = Typed(Kind.BOOL, combine(left.fn, right.fn), left.fields | right.fields)
        return left

    def not_expr(self) -> Typed:
        if self.peek().text == "not":
            token = self.take()
            inner = self.not_expr()
            _need(inner, Kind.BOOL, "'not'", token.column)
            fn = inner.fn
            return Typed(Kind.BOOL, lambda s: None if (v := fn(s)) is None else not v, inner.fields)
        return self.comparison()

    def comparison(self) -> Typed:
        left = self.sum()
        token = self.peek()
        if token.text not in _COMPARE:
            return left
        self.take()
        right = self.sum()
        if left.kind is not right.kind or left.kind is Kind.BOOL:
            raise ConditionError(
                f"cannot compare {left.kind.value} with {right.kind.value}", token.column
            )
        if left.kind is Kind.STRING and token.text not in ("==", "!="):
            raise ConditionError("strings compare only with == and !=", token.column)
        if self.first_comparison_side is None:
            self.first_comparison_side = left
        return Typed(
            Kind.BOOL, _compare(_COMPARE[token.text], left.fn, right.fn), _both(left, right)
        )

    def sum(self) -> Typed:
        left = self.term()
        while self.peek().text in ("+", "-"):
            token = self.take()
            right = self.term()
            if left.kind is not right.kind or left.kind not in (Kind.NUMBER, Kind.DURATION):
                raise ConditionError(
                    f"cannot use {token.text!r} on {left.kind.value} and {right.kind.value}",
                    token.column,
                )
            op = operator.add if token.text == "+" else operator.sub
            left = Typed(left.kind, _arith(op, left.fn, right.fn), _both(left, right))
        return left

    def term(self) -> Typed:
        left = self.unary()
        while self.peek().text in ("*", "/"):
            token = self.take()
            right = self.unary()
            left = _multiply(token, left, right)
        return left

    def unary(self) -> Typed:
        if self.peek().text == "-":
            token = self.take()
            inner = self.unary()
            if inner.kind not in (Kind.NUMBER, Kind.DURATION):
                raise ConditionError(f"cannot negate {inner.kind.value}", token.column)
            fn = inner.fn
            return Typed(inner.kind, lambda s: None if (v := fn(s)) is None else -v, inner.fields)
        return self.primary()

    def primary(self) -> Typed:
        token = self.peek()
        if token.kind == "number":
            return self._number()
        if token.kind == "string":
            self.take()
            text = token.text[1:-1]
            return Typed(Kind.STRING, lambda s: text, frozenset())
        if token.text == "(":
            self.take()
            inner = self.or_expr()
            self.expect(")")
            return inner
        if token.kind == "name" and token.text not in _KEYWORDS:
            self.take()
            if self.peek().text == "(":
                return self._call(token)
            return self._field(token)
        found = "the end of the condition" if token.kind == "end" else repr(token.text)
        raise ConditionError(f"expected a value, found {found}", token.column)

    def _number(self) -> Typed:
        token = self.take()
        unit = self.peek()
        if unit.kind == "name" and unit.text.lower() in UNITS_NS:
            self.take()
            ns = int(Decimal(token.text) * UNITS_NS[unit.text.lower()])
            return Typed(Kind.DURATION, lambda s: ns, frozenset())
        number = Decimal(token.text)
        return Typed(Kind.NUMBER, lambda s: number, frozenset())

    def duration_literal(self) -> int:
        token = self.peek()
        literal = self._number() if token.kind == "number" else None
        if literal is None or literal.kind is not Kind.DURATION:
            raise ConditionError("'for' needs a duration, like 'for 30 seconds'", token.column)
        return int(literal.fn(None))

    def _field(self, token: _Token) -> Typed:
        spec = self.fields.get(token.text)
        if spec is None:
            known = ", ".join(sorted(self.fields))
            raise ConditionError(f"unknown field {token.text!r} (fields: {known})", token.column)
        return Typed(spec.kind, spec.read, frozenset([token.text]))

    def _call(self, name: _Token) -> Typed:
        if name.text not in ("abs", "min", "max"):
            raise ConditionError(
                f"unknown function {name.text!r} (functions: abs, min, max)", name.column
            )
        self.expect("(")
        args = [self.or_expr()]
        while self.peek().text == ",":
            self.take()
            args.append(self.or_expr())
        self.expect(")")
        want = 1 if name.text == "abs" else 2
        if (name.text == "abs" and len(args) != 1) or len(args) < want:
            raise ConditionError(
                f"{name.text}() takes {'one argument' if want == 1 else 'two or more'}",
                name.column,
            )
        kind = args[0].kind
        if kind not in (Kind.NUMBER, Kind.DURATION) or any(a.kind is not kind for a in args):
            raise ConditionError(f"{name.text}() takes numbers or durations", name.column)
        fields = frozenset().union(*(a.fields for a in args))
        return Typed(kind, _function(name.text, [a.fn for a in args]), fields)


def _need(typed: Typed, kind: Kind, where: str, column: int) -> None:
    if typed.kind is not kind:
        raise ConditionError(f"{where} needs {kind.value}, not {typed.kind.value}", column)


def _both(left: Typed, right: Typed) -> frozenset[str]:
    return left.fields | right.fields


def _multiply(token: _Token, left: Typed, right: Typed) -> Typed:
    """number*number, duration*number, number*duration, number/number, duration/number
    (a duration) and duration/duration (a number)."""
    kinds = (left.kind, right.kind)
    N, D = Kind.NUMBER, Kind.DURATION
    if token.text == "*":
        result = {(N, N): N, (D, N): D, (N, D): D}.get(kinds)
        op = operator.mul
    else:
        result = {(N, N): N, (D, N): D, (D, D): N}.get(kinds)
        op = _divide
    if result is None:
        raise ConditionError(
            f"cannot use {token.text!r} on {left.kind.value} and {right.kind.value}", token.column
        )
    fn = _arith(op, left.fn, right.fn)
    if result is D:  # durations stay whole nanoseconds
        exact = fn
        fn = lambda s: None if (v := exact(s)) is None else int(v)  # noqa: E731
    return Typed(result, fn, _both(left, right))


def _divide(a: Value, b: Value) -> Value:
    try:
        return Decimal(a) / Decimal(b)
    except (DivisionByZero, InvalidOperation):
        return None


def _arith(op: Callable, left: Compiled, right: Compiled) -> Compiled:
    def arith(source: Any) -> Value:
        a = left(source)
        if a is None:
            return None
        b = right(source)
        return None if b is None else op(a, b)

    return arith


def _compare(op: Callable, left: Compiled, right: Compiled) -> Compiled:
    def compare(source: Any) -> bool | None:
        a = left(source)
        if a is None:
            return None
        b = right(source)
        return None if b is None else op(a, b)

    return compare


def _kleene(dominant: bool) -> Callable[[Compiled, Compiled], Compiled]:
    """Three-valued and (False dominates) or or (True dominates): the dominant value wins over
    unknown, then unknown over the other."""

    def combine(left: Compiled, right: Compiled) -> Compiled:
        def logical(source: Any) -> bool | None:
            a = left(source)
            if a is dominant:
                return dominant
            b = right(source)
            if b is dominant:
                return dominant
            return None if a is None or b is None else not dominant

        return logical

    return combine


_and, _or = _kleene(False), _kleene(True)


def _function(name: str, args: list[Compiled]) -> Compiled:
    if name == "abs":
        (arg,) = args
        return lambda s: None if (v := arg(s)) is None else abs(v)
    pick = min if name == "min" else max

    def extreme(source: Any) -> Value:
        values = [arg(source) for arg in args]
        return None if None in values else pick(values)

    return extreme
