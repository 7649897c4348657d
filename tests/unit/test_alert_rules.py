"""Alert rules: the seed's YAML loads unchanged; conditions are safe, exact and type-checked;
a bad rule fails the load with one message naming the rule and the column."""

from decimal import Decimal
from pathlib import Path

import pytest

from mdc.alerts.expr import Kind, parse_condition, parse_duration
from mdc.alerts.fields import SPECS, InstrumentState, Scope, VenueState
from mdc.alerts.rules import RuleError, load_rules, parse_rules

REPO = Path(__file__).resolve().parents[2]
SEED_RULES = """
alerts:
  - name: price_spike
    condition: "abs(price - previous_price) / previous_price > 0.05"
    window: "1 minute"
    severity: warning

  - name: data_gap
    condition: "time_since_last_trade > 5 minutes"
    symbols: ["SPY", "QQQ", "IWM"]
    severity: critical

  - name: crossed_market
    condition: "bid_price > ask_price"
    severity: error

  - name: provider_disconnect
    condition: "provider_status != 'connected' for 30 seconds"
    severity: critical
"""


def test_the_seeds_rules_load_unchanged_with_their_meaning():
    spike, gap, crossed, disconnect = parse_rules(SEED_RULES)
    assert (spike.name, spike.window_ns, spike.severity) == ("price_spike", 60 * 10**9, "warning")
    assert gap.symbols.patterns == ("SPY", "QQQ", "IWM") and gap.clocked and not gap.per_venue
    assert crossed.streams == {"quotes"} and not crossed.clocked
    assert disconnect.per_venue and disconnect.condition.for_ns == 30 * 10**9


def test_the_shipped_rules_file_loads():
    names = [rule.name for rule in load_rules(REPO / "alerts.yaml")]
    assert names[:4] == ["price_spike", "data_gap", "crossed_market", "provider_disconnect"]


def _scope(**values) -> Scope:
    scope = Scope()
    scope.instrument = InstrumentState(VenueState())
    for name, value in values.items():
        setattr(scope.instrument, name, value)
    return scope


@pytest.mark.parametrize(
    ("condition", "values", "holds", "value"),
    [
        ("price * 3 == 0.3", {"price": Decimal("0.1")}, True, Decimal("0.3")),  # exact
        ("price / size > 1", {"price": Decimal(1), "size": Decimal(0)}, None, None),
        ("price > 1 or size > 1", {"price": None, "size": Decimal(2)}, True, None),
        ("price > 1 and size > 1", {"price": None, "size": Decimal(0)}, False, None),
        ("not price > 1", {"price": None}, None, None),
        ("max(price, size, 2) - min(price, 1) >= 4", {"price": Decimal(5), "size": 0}, True, 4),
        ("-price < -(1 + 1) * 2", {"price": Decimal(5)}, True, Decimal(-5)),
        ('side == "buy"', {"side": "buy"}, True, "buy"),
        ("spread >= 0.5", {"bid_price": Decimal(1), "ask_price": Decimal("1.5")}, True, None),
    ],
)
def test_conditions_evaluate_exactly_and_unknown_never_holds(condition, values, holds, value):
    compiled = parse_condition(condition, SPECS)
    scope = _scope(**values)
    assert compiled.holds(scope) is holds
    if value is not None:
        assert compiled.value(scope) == value


def test_durations_compare_with_durations():
    compiled = parse_condition("time_since_last_trade > 1.5 minutes / 3", SPECS)
    scope = _scope(last_trade_ns=0)
    scope.now_ns = 30 * 10**9 + 1
    assert compiled.holds(scope) is True and compiled.value_kind is Kind.DURATION
    assert parse_duration("500ms") == 500_000_000 and parse_duration("2 h") == 7200 * 10**9


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ('condition: "abs(pric - 1) > 2"', "column 5: unknown field 'pric'"),
        ('condition: "price > 5 minutes"', "column 7: cannot compare a number with a duration"),
        ('condition: "price >"', "column 8: expected a value, found the end"),
        ('condition: "price > 1 for 30"', "column 15: 'for' needs a duration"),
        ('condition: "price ** 2 > 1"', "column 8: expected a value, found '*'"),
        ('condition: "__import__(1) > 1"', "column 1: unknown function '__import__'"),
        ('condition: "price"', "column 1: the condition is a number, not a comparison"),
        ("condition: \"side > 'buy'\"", "column 6: strings compare only with == and !="),
        ('condition: "price > 1 and 2"', "column 11: 'and' needs a true/false condition"),
        ('condition: "abs(price, 1) > 1"', "column 1: abs() takes one argument"),
        ('condition: "price > 1 junk"', "column 11: unexpected 'junk'"),
        ('condition: "price ; 1"', "column 7: unexpected character ';'"),
        ('condition: "price > 1"\n    severity: loud', "severity must be one of"),
        ('condition: "price > 1"\n    window: soon', "window: not a duration: 'soon'"),
        ('condition: "price > 1"\n    colour: red', "unknown key 'colour'"),
        ('condition: "price > 1"\n    labels: {venue: x}', "the label 'venue' is set by mdc"),
        ("condition: \"provider_status == 'failed'\"\n    symbols: [A]", "reads only venue"),
    ],
)
def test_a_bad_rule_fails_the_load_naming_the_rule_and_the_place(rule, expected):
    text = f"alerts:\n  - name: spike\n    {rule}\n"
    with pytest.raises(RuleError) as caught:
        parse_rules(text, "rules.yaml")
    message = str(caught.value)
    assert message.startswith("rules.yaml: rule 1 ('spike'): ") and expected in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("alerts: [1", "not valid YAML (line 1"),
        ("rules: []", "expected a top-level 'alerts:' list"),
        ("alerts:\n  - condition: 'price > 1'", "rule 1: 'name' must be a word"),
        (
            "alerts:\n  - {name: a, condition: 'price > 1'}\n  - {name: a, condition: 'price > 2'}",
            "rule 2: the name 'a' is used twice",
        ),
    ],
)
def test_a_bad_rules_file_says_what_is_wrong(text, expected):
    with pytest.raises(RuleError, match=r"^rules\.yaml: ") as caught:
        parse_rules(text, "rules.yaml")
    assert expected in str(caught.value)


def test_an_unreadable_rules_file_is_a_one_line_error(tmp_path):
    with pytest.raises(RuleError, match=r"cannot read alert rules file .*missing\.yaml"):
        load_rules(tmp_path / "missing.yaml")
