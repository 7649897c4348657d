"""Fault links do what they say, deterministically for a seed."""

from __future__ import annotations

import itertools
import json
import random

import pytest

from mdc.simulator.faults import Close, FaultConfig, FaultConfigError, FaultLink, Send

FRAMES = [json.dumps({"n": i, "payload": "x" * (i % 7)}) for i in range(2000)]


def run(config: FaultConfig, seed: int = 1) -> list:
    link = FaultLink(config, random.Random(seed))
    return [action for frame in FRAMES for action in link.process(frame)]


def sent(actions: list) -> list[str]:
    return [a.frame for a in actions if isinstance(a, Send)]


def test_no_faults_is_a_perfect_network() -> None:
    assert sent(run(FaultConfig())) == FRAMES


def test_drop_loses_about_the_given_fraction_and_keeps_order() -> None:
    out = sent(run(FaultConfig(drop=0.1)))
    assert 1700 < len(out) < 1900
    assert [json.loads(f)["n"] for f in out] == sorted(json.loads(f)["n"] for f in out)


def test_duplicate_repeats_frames_back_to_back() -> None:
    out = sent(run(FaultConfig(duplicate=0.2)))
    doubles = sum(1 for a, b in itertools.pairwise(out) if a == b)
    assert set(out) == set(FRAMES) and 300 < doubles < 500 and len(out) == len(FRAMES) + doubles


def test_reorder_sends_a_held_frame_right_after_the_next() -> None:
    out = sent(run(FaultConfig(reorder=0.1)))
    numbers = [json.loads(f)["n"] for f in out]
    swaps = [i for i in range(len(numbers) - 1) if numbers[i] > numbers[i + 1]]
    assert sorted(numbers) == list(range(len(FRAMES)))
    assert len(swaps) > 100 and all(numbers[i] == numbers[i + 1] + 1 for i in swaps)


def test_release_held_flushes_a_frame_held_for_reordering() -> None:
    link = FaultLink(FaultConfig(reorder=1.0), random.Random(1))
    assert link.process("a") == []
    link.config = FaultConfig()
    assert link.release_held() == [Send("a")] and link.release_held() == []


def test_corrupt_frames_are_never_valid_json() -> None:
    out = sent(run(FaultConfig(corrupt=0.3)))
    bad = [f for f in out if f not in FRAMES]
    assert 450 < len(bad) < 750
    for frame in bad:
        with pytest.raises(ValueError):
            json.loads(frame)


def test_close_with_probability_and_seeded_determinism() -> None:
    actions = run(
        FaultConfig(close=0.01, drop=0.05, duplicate=0.05, reorder=0.05, corrupt=0.05), seed=9
    )
    again = run(
        FaultConfig(close=0.01, drop=0.05, duplicate=0.05, reorder=0.05, corrupt=0.05), seed=9
    )
    other = run(
        FaultConfig(close=0.01, drop=0.05, duplicate=0.05, reorder=0.05, corrupt=0.05), seed=10
    )
    assert actions == again and actions != other
    assert 5 < sum(isinstance(a, Close) for a in actions) < 40


def test_stall_is_a_deadline() -> None:
    link = FaultLink(FaultConfig(), random.Random(1))
    link.stall(now_ns=1_000, seconds=2)
    assert link.stalled(1_000) and link.stalled(2_000_000_999) and not link.stalled(2_000_001_000)
    with pytest.raises(FaultConfigError):
        link.stall(now_ns=0, seconds=-1)


def test_bad_fault_settings_are_typed_errors() -> None:
    with pytest.raises(FaultConfigError, match="probability"):
        FaultConfig(drop=1.5)
    with pytest.raises(FaultConfigError, match="probability"):
        FaultConfig(drop="0.5")  # type: ignore[arg-type]
    with pytest.raises(FaultConfigError, match="unknown faults"):
        FaultConfig().updated({"explode": 1})
    assert FaultConfig().updated({"drop": 0.5}).drop == 0.5
