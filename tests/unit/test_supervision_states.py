"""The supervisor's child states and their one transition table (pure logic, no Ray)."""

import itertools

import pytest

from mdc.errors import IllegalTransition, LocalMisuse
from mdc.supervision import TRANSITIONS, ChildState, checked_move

LEGAL = [(current, wanted) for current, targets in TRANSITIONS.items() for wanted in targets]
ILLEGAL = [
    (current, wanted)
    for current, wanted in itertools.product(ChildState, repeat=2)
    if wanted not in TRANSITIONS[current]
]


def test_every_state_has_a_row_and_every_row_names_only_states():
    assert set(TRANSITIONS) == set(ChildState)
    assert all(targets <= set(ChildState) for targets in TRANSITIONS.values())


def test_the_values_are_the_strings_the_status_output_has_always_shown():
    assert [s.value for s in ChildState] == ["starting", "running", "restarting", "failed"]


@pytest.mark.parametrize(("current", "wanted"), LEGAL)
def test_every_move_in_the_table_is_legal(current, wanted):
    assert checked_move(current, wanted, "test child") is wanted


@pytest.mark.parametrize(("current", "wanted"), ILLEGAL)
def test_a_move_outside_the_table_raises_naming_both_states(current, wanted):
    with pytest.raises(IllegalTransition) as caught:
        checked_move(current, wanted, "supervisor child writer")
    error = caught.value
    assert isinstance(error, LocalMisuse)
    assert (error.current, error.wanted) == (current, wanted)
    message = str(error)
    assert "supervisor child writer" in message
    assert str(current) in message and str(wanted) in message


def test_there_are_illegal_moves_at_all():
    assert (ChildState.STARTING, ChildState.FAILED) in ILLEGAL
    assert (ChildState.RUNNING, ChildState.STARTING) in ILLEGAL


def test_nothing_goes_back_to_starting():
    assert not any(ChildState.STARTING in targets for targets in TRANSITIONS.values())


def test_failed_is_final():
    """Nothing restarts a failed child: the supervisor runs one restart per child at a time, so
    no second restart can bring back a child the first one escalated."""
    assert TRANSITIONS[ChildState.FAILED] == frozenset()
    for wanted in ChildState:
        with pytest.raises(IllegalTransition):
            checked_move(ChildState.FAILED, wanted, "test child")


def test_a_running_child_is_never_started_again_without_a_restart():
    with pytest.raises(IllegalTransition):
        checked_move(ChildState.RUNNING, ChildState.RUNNING, "test child")


def test_a_starting_child_can_only_come_up():
    assert TRANSITIONS[ChildState.STARTING] == frozenset({ChildState.RUNNING})
