"""The case state machine of the towns' closed loop, as a table.

discover → dispatch → handle → feedback → verify → rate. The main road:

    reported -dispatch-> dispatched -accept-> accepted -handle-> handled -verify-> verified
             -rate-> rated -close-> closed            (a verified case may also close unrated)

A shop front whose owner is registered with a phone is first ``notify_owner``ed: the case waits
in ``owner_notified`` for the town's grace period; the camera seeing the strip clear in time
``self_correct``s it (closed, counted as put right by the shop), else it is dispatched.

Side roads: a worker may ``return`` a case that is not theirs (wrong grid), and a leader or
dispatcher ``reroute``s it; ``consult`` calls the leader in and ``resume`` goes back to work;
a leader who finds the handling wanting ``reject``s it into ``rework``, whence ``handle`` again.
``extend`` moves a deadline without changing state; ``void`` (a false alarm, with a reason
that goes back to the edge's tuning) ends any open case. Every transition is stored with
who, when and why (see ``CaseTransitionRow``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from i18n import Msg, Words
from i18n.terms import word


class CaseState(StrEnum):
    reported = "reported"  # opened, no one assigned yet (e.g. unknown micro-grid)
    owner_notified = "owner_notified"  # a shop front's owner was told to put it right first (grace period)
    dispatched = "dispatched"  # sent to the micro-grid worker
    accepted = "accepted"  # the worker took it
    returned = "returned"  # the worker says it is not theirs (wrong grid): re-route
    consult = "consult"  # the leader gathers the teams
    handled = "handled"  # the worker fixed it, with an after photo
    rework = "rework"  # the leader rejected the handling
    verified = "verified"  # the camera saw the spot free, or the leader checked
    rated = "rated"  # the resident rated the result
    closed = "closed"
    void = "void"  # a false alarm


class Role(StrEnum):
    system = "system"  # the dispatcher itself: routing, timers, the camera's verdict
    worker = "worker"
    leader = "leader"
    dispatcher = "dispatcher"
    resident = "resident"


OPEN_STATES = frozenset(set(CaseState) - {CaseState.closed, CaseState.void})
ACTIVE_WORK = frozenset({CaseState.dispatched, CaseState.accepted, CaseState.rework, CaseState.consult})


@dataclass(frozen=True)
class Rule:
    sources: frozenset[CaseState]
    target: CaseState | None  # None: the state stays (extend)
    roles: frozenset[Role]
    needs_reason: bool = False


def _rule(sources: set[CaseState], target: CaseState | None, roles: set[Role], needs_reason: bool = False) -> Rule:
    return Rule(frozenset(sources), target, frozenset(roles), needs_reason)


S, R = CaseState, Role
RULES: dict[str, Rule] = {
    "dispatch": _rule({S.reported, S.owner_notified}, S.dispatched, {R.system, R.dispatcher}),
    # a shop front with a registered owner: a rectification notice and a grace period first
    "notify_owner": _rule({S.reported}, S.owner_notified, {R.system}),
    "self_correct": _rule({S.owner_notified}, S.closed, {R.system}),  # the camera saw the strip clear in time
    "accept": _rule({S.dispatched}, S.accepted, {R.worker, R.leader}),
    "return": _rule({S.dispatched, S.accepted}, S.returned, {R.worker}, needs_reason=True),
    "reroute": _rule({S.reported, S.returned}, S.dispatched, {R.dispatcher, R.leader}),
    "consult": _rule({S.accepted, S.rework}, S.consult, {R.worker, R.leader}, needs_reason=True),
    "resume": _rule({S.consult}, S.accepted, {R.leader}),
    "handle": _rule({S.accepted, S.rework}, S.handled, {R.worker, R.leader}),
    "reject": _rule({S.handled}, S.rework, {R.leader}, needs_reason=True),
    "verify": _rule({S.handled}, S.verified, {R.leader, R.system}),
    "rate": _rule({S.verified}, S.rated, {R.resident, R.dispatcher}),
    "close": _rule({S.verified, S.rated}, S.closed, {R.system, R.dispatcher, R.leader}),
    "extend": _rule({S.dispatched, S.accepted, S.rework, S.consult}, None, {R.leader, R.dispatcher},
                    needs_reason=True),
    "void": _rule(set(OPEN_STATES), S.void, {R.dispatcher, R.leader}, needs_reason=True),
    # by hand, one level up (micro-grid leader, then the line department), before any deadline
    "escalate": _rule({S.dispatched, S.accepted, S.rework, S.consult}, None, {R.dispatcher, R.leader},
                      needs_reason=True),
}


class TransitionError(ValueError):
    """The action does not apply: wrong state, wrong role, or a missing reason."""


def next_state(action: str, current: CaseState, role: Role, reason: str | None) -> CaseState:
    """The state after ``action``; raises :class:`TransitionError` saying why it may not happen."""
    rule = RULES.get(action)
    if rule is None:
        raise TransitionError(Msg("unknown action {action} (known: {known})", action=repr(action),
                                  known=", ".join(sorted(RULES))))
    if current not in rule.sources:
        allowed = Words(word("state", s) for s in sorted(s.value for s in rule.sources))
        raise TransitionError(Msg("cannot {action} a case that is {state} (only from: {allowed})",
                                  action=word("action", action), state=word("state", current.value), allowed=allowed))
    if role not in rule.roles:
        raise PermissionError(Msg("a {role} may not {action} a case", role=word("role", role.value),
                                  action=word("action", action)))
    if rule.needs_reason and not (reason and reason.strip()):
        raise TransitionError(Msg("{action} needs a reason", action=word("action", action)))
    return rule.target or current
