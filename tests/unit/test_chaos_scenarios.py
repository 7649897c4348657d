"""Scenario schedules are a function of the seed alone, and every guarantee check can fail."""

from __future__ import annotations

import pytest

from chaos.faults.registry import fault_names
from chaos.scenarios import get_scenario, scenario_names, select
from chaos.scenarios import invariants as inv
from chaos.scenarios.base import ScenarioError, Slo
from mdc.verify import VerifyReport

NAMES = [
    "load_spike",
    "mixed",
    "network_partition",
    "provider_failure",
    "region_partition",
    "storage_failure",
]


def test_the_six_scenarios_are_registered():
    assert scenario_names() == NAMES
    assert [s.name for s in select("all")] == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_schedule_other_seed_other_schedule(name):
    scenario = get_scenario(name)
    first, again, other = (scenario.schedule(seed, 60) for seed in (3, 3, 4))
    assert first == again
    assert first != other
    assert all(0 <= step.at_s < 60 for step in first)
    assert {step.fault for step in first} <= set(fault_names())


def test_unknown_scenario_and_short_duration_are_clear_errors():
    with pytest.raises(ScenarioError, match="known: load_spike"):
        get_scenario("meteor")
    with pytest.raises(ScenarioError, match="at least 16"):
        get_scenario("storage_failure").schedule(1, 5)


def good_report() -> VerifyReport:
    return VerifyReport(trades_expected=100, trades_found=100, book_states_checked=20)


@pytest.mark.parametrize(
    "defect", [{"trades_missing": 1}, {"trades_duplicated": 1}, {"trades_wrong": 1}]
)
def test_trade_check_fails_on_any_loss_double_or_wrong_value(defect):
    assert inv.trades_exactly_once(good_report()).ok
    report = good_report()
    for key, value in defect.items():
        setattr(report, key, value)
    assert not inv.trades_exactly_once(report).ok


def test_checks_fail_when_nothing_was_checked():
    assert not inv.trades_exactly_once(VerifyReport(), min_trades=1).ok
    assert not inv.books_exact(VerifyReport(), min_states=1).ok
    assert not inv.memory_bounded({}, Slo()).ok


def test_book_memory_recovery_and_prediction_checks():
    report = good_report()
    assert inv.books_exact(report).ok
    report.book_mismatches = 1
    assert not inv.books_exact(report).ok
    slo = Slo(max_actor_rss_mb=100, max_recovery_s=5, max_error_rate=0.01, max_p99_ms=50)
    assert inv.memory_bounded({"writer": 99.0}, slo).ok
    assert not inv.memory_bounded({"writer": 101.0}, slo).ok
    assert inv.recovered_in_time({"0:kill_actor": 4.9}, slo).ok
    assert not inv.recovered_in_time({"0:kill_actor": None}, slo).ok
    assert inv.prediction_slo(100, 0.0, 49.0, slo).ok
    assert not inv.prediction_slo(100, 0.02, 49.0, slo).ok
    assert not inv.prediction_slo(100, 0.0, 51.0, slo).ok
    assert not inv.prediction_slo(0, 0.0, None, slo).ok


def test_acknowledged_loss_check_needs_every_producer_drained_and_an_empty_dlq():
    assert inv.nothing_acknowledged_lost({"provider:binance": True}, {"replayed": 3}).ok
    assert not inv.nothing_acknowledged_lost({"provider:binance": False}, {}).ok
    assert not inv.nothing_acknowledged_lost({"provider:binance": True}, {"pending": 1}).ok
    assert not inv.nothing_acknowledged_lost({}, {}).ok


def test_subscriber_checks_catch_a_doubled_skipped_or_reordered_trade_and_a_late_book():
    from mdc.store.streams import Stream

    a, b = Stream("v", "trades", "A"), Stream("v", "trades", "B")
    stored = {a: [b"1", b"2", b"3"], b: [b"x", b"y"]}
    assert inv.subscribers_saw_trades_once({a: [b"1", b"2"], b: [b"x"]}, stored, 3).ok
    for bad in ([b"1", b"1"], [b"1", b"3"], [b"2", b"1"], [b"9"]):
        result = inv.subscribers_saw_trades_once({a: bad, b: [b"x"]}, stored, 1)
        assert not result.ok and "v/trades/A" in result.detail, bad
    assert not inv.subscribers_saw_trades_once({}, stored, 1).ok  # nothing received
    assert inv.subscriber_books_in_order({"s": [1, 4, 9]}, 3).ok
    assert not inv.subscriber_books_in_order({"s": [1, 4, 4]}, 1).ok
    assert not inv.subscriber_books_in_order({"s": [5, 2]}, 1).ok
    assert not inv.subscriber_books_in_order({"s": [1]}, 2).ok


def test_the_replica_check_fails_on_a_difference_an_error_or_a_partition_not_felt():
    assert inv.replica_converged([], "", 31.0, 30.0).ok
    assert not inv.replica_converged(["a+trades+X: 5 vs 4 events"], "", 31.0, 30.0).ok
    assert not inv.replica_converged([], "mdc replicate exited 1", 31.0, 30.0).ok
    unfelt = inv.replica_converged([], "", 2.0, 30.0)
    assert not unfelt.ok and "longest silence 2.0 s" in unfelt.detail
