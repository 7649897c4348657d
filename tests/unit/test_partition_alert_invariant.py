"""The partition alerting check, handed runs with planted defects: each one fails it."""

import pytest

from chaos.scenarios.invariants import Partition, partition_alerted
from mdc.alerts.evaluator import Transition

S = 10**9
FOR = 1 * S
PARTITION = Partition("kraken", 100 * S, 103 * S)


def _t(name: str, venue: str, status: str, starts: float, ends: float | None = None):
    labels = (("alertname", name), ("severity", "critical"), ("venue", venue))
    end = None if ends is None else int(ends * S)
    return Transition(name, labels, status, int(starts * S), end, "")


def _good_run():
    """(dispatcher-add time, transition): disconnect known at 103, resolved known at 106."""
    transitions = [
        (103 * S, _t("data_gap", "kraken", "firing", 101)),
        (103 * S, _t("provider_disconnect", "kraken", "firing", 101)),
        (106 * S, _t("provider_disconnect", "kraken", "resolved", 101, 104)),
        (106 * S, _t("data_gap", "kraken", "resolved", 101, 104.2)),
    ]
    return transitions, []


def _check(transitions, notified):
    return partition_alerted([PARTITION], transitions, notified, ("kraken", "binance"), FOR)


def test_a_partition_alerted_as_it_should_passes():
    assert _check(*_good_run()).ok


def _leaked(transitions, notified):
    gap = {"labels": {"alertname": "data_gap", "venue": "kraken"}, "status": "firing"}
    return transitions, [(int(104.5 * S), gap)]


def _late_fire(transitions, notified):
    late = [(at, t) for at, t in transitions if t.alertname != "provider_disconnect"]
    return [*late, (110 * S, _t("provider_disconnect", "kraken", "firing", 107))], notified


def _no_resolve(transitions, notified):
    return [(at, t) for at, t in transitions if t.status != "resolved"], notified


def _other_venue(transitions, notified):
    return [*transitions, (103 * S, _t("provider_disconnect", "binance", "firing", 102))], notified


def _no_gap(transitions, notified):
    return [(at, t) for at, t in transitions if t.alertname != "data_gap"], notified


def _gap_before(transitions, notified):
    """A data_gap that ended before the disconnect began (in the events' time)."""
    kept = [(at, t) for at, t in transitions if t.alertname != "data_gap"]
    early = [(99 * S, _t("data_gap", "kraken", s, 98, None if s == "firing" else 100.5))
             for s in ("firing", "resolved")]  # fmt: skip
    return [*kept, *early], notified


def test_a_lagging_follower_that_learned_the_gap_before_the_disconnect_passes():
    """Under load the follower may read the trades stream (the gap firing and resolving) before
    the status stream: the gap still overlapped the disconnect in the events' time."""
    transitions, notified = _good_run()
    lagging = [(at - 4 * S if t.alertname == "data_gap" else at, t) for at, t in transitions]
    assert _check(lagging, notified).ok


@pytest.mark.parametrize(
    ("defect", "expected"),
    [
        (_leaked, "data_gap notified while inhibited"),
        (_late_fire, "did not fire within for + 5 s"),
        (_no_resolve, "did not resolve within 10 s"),
        (_other_venue, "fired for other venues"),
        (_no_gap, "data_gap never fired"),
        (_gap_before, "data_gap never fired"),
    ],
)
def test_each_planted_defect_fails_the_check(defect, expected):
    result = _check(*defect(*_good_run()))
    assert not result.ok and expected in result.detail


def test_a_run_without_a_partition_cannot_pass():
    assert not partition_alerted([], *_good_run(), ("kraken",), FOR).ok
