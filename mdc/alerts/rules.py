"""Alert rules in the seed's YAML, checked whole when loaded.

    alerts:
      - name: price_spike
        condition: "abs(price - previous_price) / previous_price > 0.05"
        window: "1 minute"
        severity: warning

A rule has `name` and `condition`; optional `window` (how far back `previous_price` looks),
`symbols` and `venues` (exact names or globs; none means all), `severity` (critical, error,
warning or info; default warning), `labels` and `annotations`. A bad rule fails the load with
one message naming the file, the rule and where in it the error is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from mdc.alerts.expr import Condition, ConditionError, parse_condition, parse_duration
from mdc.alerts.fields import FIELDS, SPECS
from mdc.configfile import read_config_text
from mdc.distribution.subscription import BadSubscription, SymbolPatterns
from mdc.errors import ConfigError

SEVERITIES = ("critical", "error", "warning", "info")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KEYS = {"name", "condition", "window", "symbols", "venues", "severity", "labels", "annotations"}
_RESERVED_LABELS = {"alertname", "severity", "venue", "symbol"}


class RuleError(ConfigError):
    """A rules file that cannot be used; the message names the rule and the place."""


@dataclass(frozen=True)
class Rule:
    name: str
    condition: Condition
    severity: str = "warning"
    window_ns: int = 0
    symbols: SymbolPatterns = field(default_factory=SymbolPatterns)
    venues: SymbolPatterns = field(default_factory=SymbolPatterns)
    labels: tuple[tuple[str, str], ...] = ()
    annotations: tuple[tuple[str, str], ...] = ()

    # cached: the evaluator asks for every event (a frozen dataclass keeps them in __dict__)
    @cached_property
    def streams(self) -> frozenset[str]:
        return frozenset(FIELDS[name].stream for name in self.condition.fields)

    @cached_property
    def per_venue(self) -> bool:
        """Reads only venue fields (provider_status): one alert per venue, no symbol label."""
        return self.streams <= {"status"}

    @cached_property
    def clocked(self) -> bool:
        """Changes with time alone: evaluated at every tick, not only on its events."""
        fields = self.condition.fields
        return self.condition.for_ns > 0 or any(FIELDS[f].clocked for f in fields)

    def wants(self, venue: str, symbol: str) -> bool:
        return self.venues.matches(venue) and (self.per_venue or self.symbols.matches(symbol))


def load_rules(path: str | Path) -> list[Rule]:
    """The rules of a YAML file, or RuleError naming the file, the rule and the problem."""
    return parse_rules(read_config_text(path, "alert rules file", RuleError), str(path))


def parse_rules(text: str, source: str = "<rules>") -> list[Rule]:
    return rules_of(read_yaml(text, source), source)


def read_yaml(text: str, source: str) -> dict:
    """The document (a mapping), or RuleError with the line and column YAML stopped at."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise RuleError(f"{source}: not valid YAML{where}: {_first_line(exc)}") from exc
    if not isinstance(document, dict):
        raise RuleError(f"{source}: expected a mapping with an 'alerts:' list of rules")
    return document


def rules_of(document: dict, source: str) -> list[Rule]:
    if not isinstance(document.get("alerts"), list):
        raise RuleError(f"{source}: expected a top-level 'alerts:' list of rules")
    rules: list[Rule] = []
    for number, entry in enumerate(document["alerts"], 1):
        rule = _rule(entry, f"{source}: rule {number}")
        if any(r.name == rule.name for r in rules):
            raise RuleError(f"{source}: rule {number}: the name {rule.name!r} is used twice")
        rules.append(rule)
    return rules


def _first_line(exc: Exception) -> str:
    return str(getattr(exc, "problem", None) or exc).splitlines()[0]


def _rule(entry: Any, where: str) -> Rule:
    if not isinstance(entry, dict):
        raise RuleError(f"{where}: expected a mapping with 'name' and 'condition'")
    name = entry.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise RuleError(f"{where}: 'name' must be a word (letters, digits, _), got {name!r}")
    where = f"{where} ({name!r})"
    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        raise RuleError(f"{where}: unknown key {unknown[0]!r} (keys: {', '.join(sorted(_KEYS))})")
    text = entry.get("condition")
    if not isinstance(text, str) or not text.strip():
        raise RuleError(f"{where}: 'condition' must be a non-empty string")
    try:
        condition = parse_condition(text, SPECS)
    except ConditionError as exc:
        raise RuleError(
            f"{where}: condition, column {exc.column}: {exc.message}\n"
            f"  {text}\n  {' ' * (exc.column - 1)}^"
        ) from exc
    severity = entry.get("severity", "warning")
    if severity not in SEVERITIES:
        raise RuleError(f"{where}: severity must be one of {', '.join(SEVERITIES)}")
    rule = Rule(
        name,
        condition,
        severity,
        _window(entry.get("window"), where),
        _patterns(entry, "symbols", where),
        _patterns(entry, "venues", where),
        _pairs(entry, "labels", where, reserved=True),
        _pairs(entry, "annotations", where),
    )
    if rule.per_venue and rule.symbols.patterns:
        raise RuleError(f"{where}: 'symbols' given, but the condition reads only venue fields")
    return rule


def _window(value: Any, where: str) -> int:
    if value is None:
        return 0
    try:
        return parse_duration(str(value))
    except ValueError as exc:
        raise RuleError(f"{where}: window: {exc}") from exc


def _patterns(entry: dict, key: str, where: str) -> SymbolPatterns:
    value = entry.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RuleError(f"{where}: '{key}' must be a list of names")
    try:
        return SymbolPatterns.parse(value, key)
    except BadSubscription as exc:
        raise RuleError(f"{where}: {exc}") from exc


def _pairs(entry: dict, key: str, where: str, reserved: bool = False) -> tuple:
    value = entry.get(key, {})
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str | int | float) for k, v in value.items()
    ):
        raise RuleError(f"{where}: '{key}' must map names to text")
    clash = sorted(set(value) & _RESERVED_LABELS) if reserved else []
    if clash:
        raise RuleError(f"{where}: the label {clash[0]!r} is set by mdc")
    return tuple(sorted((k, str(v)) for k, v in value.items()))
