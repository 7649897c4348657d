"""The one backoff policy: exponential ceilings, capped, jittered within [floor, 1] of them."""

from __future__ import annotations

import random

import pytest

from mdc.backoff import Backoff
from mdc.dlq.policy import RetryPolicy
from mdc.errors import ConfigError
from mdc.supervision import RestartPolicy


def test_ceilings_grow_by_the_factor_and_stop_at_the_maximum():
    backoff = Backoff(initial=0.5, maximum=3.0)
    assert [backoff.ceiling(n) for n in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert backoff.ceiling(10**9) == 3.0  # no overflow however long the failures last


@pytest.mark.parametrize("floor", [0.0, 0.5, 1.0])
def test_delays_stay_within_the_jitter_band(floor):
    backoff, rng = Backoff(initial=1.0, maximum=8.0, floor=floor), random.Random(3)
    for attempt in range(12):
        ceiling = backoff.ceiling(attempt)
        assert all(floor * ceiling <= backoff.delay(attempt, rng) <= ceiling for _ in range(50))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"initial": 0, "maximum": 1},
        {"initial": 2, "maximum": 1},
        {"initial": 1, "maximum": 2, "factor": 1},
        {"initial": 1, "maximum": 2, "floor": 1.5},
    ],
)
def test_a_bad_policy_is_refused_when_made(kwargs):
    with pytest.raises(ConfigError, match="backoff"):
        Backoff(**kwargs)


def test_restarts_and_dead_letter_retries_use_it():
    """Restarts use equal jitter (never at once), dead letters full jitter, in their units."""
    assert RestartPolicy(backoff_initial_s=1, backoff_max_s=4).backoff == Backoff(1, 4, floor=0.5)
    assert RetryPolicy(base_ns=10, cap_ns=80).ceiling_ns(2) == 40
    with pytest.raises(ConfigError, match="backoff"):
        RestartPolicy(backoff_initial_s=0)
