"""The case state machine as a table: every action's sources, roles and reasons."""

from __future__ import annotations

import pytest

from dispatcher.cases.actions import EFFECTS, OWN_PATHS, STATE_ONLY
from dispatcher.lifecycle import OPEN_STATES, RULES, CaseState, Role, TransitionError, next_state


def test_the_main_road_of_the_closed_loop() -> None:
    state = CaseState.reported
    for action, role in [("dispatch", Role.system), ("accept", Role.worker), ("handle", Role.worker),
                         ("verify", Role.system), ("rate", Role.resident), ("close", Role.dispatcher)]:
        state = next_state(action, state, role, None)
    assert state is CaseState.closed


@pytest.mark.parametrize("state", sorted(OPEN_STATES))
def test_any_open_case_can_be_voided_with_a_reason_and_none_without(state: CaseState) -> None:
    assert next_state("void", state, Role.leader, "false alarm: a parked van") is CaseState.void
    with pytest.raises(TransitionError, match="needs a reason"):
        next_state("void", state, Role.leader, "  ")


def test_closed_and_void_are_final() -> None:
    for state in (CaseState.closed, CaseState.void):
        for action in RULES:
            with pytest.raises(TransitionError):
                next_state(action, state, Role.dispatcher, "x")


def test_roles_are_enforced() -> None:
    with pytest.raises(PermissionError, match="a worker may not verify"):
        next_state("verify", CaseState.handled, Role.worker, None)
    with pytest.raises(PermissionError, match="a worker may not reject"):
        next_state("reject", CaseState.handled, Role.worker, "bad")
    with pytest.raises(TransitionError, match="unknown action"):
        next_state("approve", CaseState.handled, Role.leader, None)


def test_extend_keeps_the_state() -> None:
    assert next_state("extend", CaseState.accepted, Role.leader, "waiting for the owner") is CaseState.accepted


def test_every_action_has_its_effects_beside_its_rule() -> None:
    """An action added to lifecycle.RULES must say what it does to the case (EFFECTS), or that
    it changes only the state, or that it runs a path of its own."""
    kinds = [set(EFFECTS), set(STATE_ONLY), set(OWN_PATHS)]
    assert set().union(*kinds) == set(RULES)
    assert sum(len(k) for k in kinds) == len(RULES)  # each in one place only
