"""People's actions on a case, and the camera's verdict: the state machine's step
(``lifecycle.RULES``) and, beside it, each action's effects on the case (``EFFECTS``)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from dispatcher.cases.core import (
    CAMERA,
    MAX_EXTEND_MIN,
    ActionResult,
    CaseActionError,
    CaseCore,
    chain_rows,
    consultation_of,
    deliveries,
    link_evidence,
    own_photo,
    subscriptions_of,
)
from dispatcher.cases.views import case_summary
from dispatcher.db import CaseRow, ConsultNoteRow, NotificationRow, now
from dispatcher.lifecycle import CaseState, Role, TransitionError, next_state
from dispatcher.routing import route
from i18n import Msg


class Actions(CaseCore):
    """People's steps of the closed loop (``act``), each checked against its rule and role."""

    def role_of(self, person_id: str) -> Role:
        person = self.grid.person(person_id)
        if person is None:
            raise PermissionError(Msg("{person} is not a person in the grid file", person=repr(person_id)))
        return {"department": Role.leader, "admin": Role.dispatcher}.get(person.role) or Role(person.role)

    def _may_act(self, case: CaseRow, person_id: str, role: Role) -> bool:
        if role in (Role.dispatcher, Role.system, Role.resident):
            return True
        if role is Role.leader:
            cell = self.grid.micro_grid(case.micro_grid)
            return person_id in (case.leader_id, case.assignee_id) or (cell is not None and cell.leader == person_id)
        return person_id in (case.worker_id, case.assignee_id)

    def act(
        self, case_id: int, action: str, person_id: str, reason: str | None = None,
        data: dict[str, Any] | None = None, role: Role | None = None,
    ) -> ActionResult:
        """Apply one action of the closed loop. Raises LookupError (no case), PermissionError
        (not this person's case or role), or CaseActionError (not from this state)."""
        role = role or self.role_of(person_id)
        data = dict(data or {})
        with self.sessions() as session:
            case = session.get(CaseRow, case_id, with_for_update=True)
            if case is None:
                raise LookupError(Msg("no case {id}", id=case_id))
            if not self._may_act(case, person_id, role):
                raise PermissionError(Msg("{person} is not responsible for case {id}", person=person_id, id=case_id))
            notes: list[NotificationRow] = []
            try:
                if action == "reroute":
                    notes = self._reroute(session, case, person_id, role, reason, data)
                elif action == "escalate":
                    notes = self._escalate_by_hand(session, case, person_id, role, reason)
                else:
                    notes = self._transition(session, case, action, person_id, role, reason, data)
                    if action == "handle" and case.cleared_at is not None:
                        # the camera saw the spot free before the worker reported: that is its verdict
                        self._transition(session, case, "verify", CAMERA, Role.system,
                                         Msg("the camera saw the spot free before it was reported handled"), {})
            except TransitionError as exc:
                raise CaseActionError(exc.args[0] if exc.args else str(exc)) from None
            session.flush()
            result = ActionResult(case_summary(case), deliveries(notes))
            session.commit()
            return result

    def _reroute(
        self, session: Session, case: CaseRow, actor: str, role: Role, reason: str | None, data: dict[str, Any]
    ) -> list[NotificationRow]:
        next_state("reroute", CaseState(case.state), role, reason)
        grid_id = str(data.get("micro_grid") or case.micro_grid)
        target = route(self.grid, grid_id)
        if target.worker_id is None:
            raise TransitionError(target.note)
        case.micro_grid, case.leader_id, case.routing_note = grid_id, target.leader_id, str(target.note)
        return self._dispatch(session, case, target.worker_id, actor, role, reason)

    def _escalate_by_hand(
        self, session: Session, case: CaseRow, actor: str, role: Role, reason: str | None
    ) -> list[NotificationRow]:
        """A dispatcher or leader hands the case one level up now: to the micro-grid leader,
        then to the line department for its kind. The leader handing it up hands it to the
        department: what the micro-grid cannot solve goes to the line department."""
        next_state("escalate", CaseState(case.state), role, reason)
        leader_hands_up = role is Role.leader and actor == case.leader_id
        level, target = ((1, case.leader_id) if case.escalation_level == 0 and not leader_hands_up
                         else (2, case.department_id))
        if case.escalation_level >= 2 or target is None or target == case.assignee_id:
            raise TransitionError(Msg("nobody further up to escalate to"))
        case.escalation_level, case.assignee_id = level, target
        self._record(session, case, "escalate", CaseState(case.state), CaseState(case.state), actor, role, reason,
                     {"assignee_id": target, "level": level, "by_hand": True})
        return self.notify(session, case, target)

    def _transition(
        self, session: Session, case: CaseRow, action: str, actor: str, role: Role, reason: str | None,
        data: dict[str, Any],
    ) -> list[NotificationRow]:
        """One step of ``lifecycle.RULES``: checked, its effects (``EFFECTS``) applied, recorded.
        Returns the notifications an effect made (whom to tell now)."""
        before = CaseState(case.state)
        after = next_state(action, before, role, reason)
        effect = EFFECTS.get(action)
        step = Step(session, case, actor, reason, data, now(), role)
        if effect is not None:
            effect(self, step)
        case.state = after.value
        if action in CITY_TOPICS:
            self._tell_city(session, case, CITY_TOPICS[action])
        self._record(session, case, action, before, after, actor, role, reason, data)
        return step.notes

    # --- each action's effects on the case, beside its rule in lifecycle.RULES ----------------

    def _accepted(self, step: Step) -> None:
        case, at = step.case, step.at
        case.accepted_at = at
        case.delivered_at = case.delivered_at or at
        self._cancel_timers(step.session, case)
        case.handle_due_at = self.escalation.handle_due(case.kind, at)
        self._start_timer(step.session, case, "handle", case.handle_due_at)

    def _handled(self, step: Step) -> None:
        case, photo = step.case, step.data.get("after_photo_sha256")
        if photo is not None:
            own_photo(step.session, photo, step.actor, "after_photo_sha256")
            link_evidence(step.session, {(case.id, photo): "after"})
        case.handled_at, case.handling_note, case.after_photo_sha256 = step.at, step.reason, photo
        self._cancel_timers(step.session, case)

    def _consulted(self, step: Step) -> None:
        """A consultation (会商): its thread opens with the reason, and the grid's leader and the
        line department for the kind are told, each on their channels."""
        case = step.case
        asker = self.grid.person(step.actor)
        step.session.add(ConsultNoteRow(case_id=case.id, author_id=step.actor,
                                        author_role=asker.role if asker else step.role.value,
                                        text=step.reason or "", at=step.at))
        told = [p for p in consultation_of(case, self.grid) if p != step.actor and self.grid.person(p) is not None]
        subscriptions = subscriptions_of(step.session, told)  # one look-up for all of them
        for person_id in told:
            rows = [NotificationRow(**row) for row in chain_rows(self.grid, person_id, subscriptions[person_id])]
            case.notifications.extend(rows)  # the assignee's delivery stays as it was
            step.notes.extend(rows)

    def _returned(self, step: Step) -> None:
        self._cancel_timers(step.session, step.case)

    def _verified(self, step: Step) -> None:
        photo = step.data.get("photo_sha256")  # the leader's own photo on site (kept in the audit trail)
        if photo is not None:
            own_photo(step.session, photo, step.actor, "photo_sha256")
            link_evidence(step.session, {(step.case.id, photo): "verify"})
        step.case.verified_at, step.case.verified_by = step.at, step.actor

    def _rejected(self, step: Step) -> None:
        case = step.case
        case.handle_due_at = self.escalation.handle_due(case.kind, step.at)
        self._start_timer(step.session, case, "handle", case.handle_due_at)

    def _rated(self, step: Step) -> None:
        rating = step.data.get("rating")
        if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
            raise TransitionError(Msg("rate needs a rating from 1 to 5"))
        step.case.rating = rating
        # the resident's own answer (their link), or one a dispatcher took by phone and typed in
        step.case.rating_source = "resident" if step.data.get("source") == "resident" else "phone"
        comment = step.data.get("comment")
        step.case.rating_comment = comment[:500] if isinstance(comment, str) and comment else None

    def _extended(self, step: Step) -> None:
        case, minutes = step.case, step.data.get("minutes")
        if (not isinstance(minutes, int | float) or isinstance(minutes, bool) or not math.isfinite(minutes)
                or not 0 < minutes <= MAX_EXTEND_MIN):
            raise TransitionError(Msg("extend needs minutes > 0 and at most {max}", max=round(MAX_EXTEND_MIN)))
        base = max(case.handle_due_at or step.at, step.at)
        case.handle_due_at = self.escalation.deadline(case.kind, base, minutes)
        self._cancel_timers(step.session, case, "handle")
        self._start_timer(step.session, case, "handle", case.handle_due_at)

    def _owner_notified(self, step: Step) -> None:
        """The shop's grace period: when it ends with the strip still taken, the case is dispatched."""
        grace = timedelta(minutes=self.shop_notice.grace_min)
        self._start_timer(step.session, step.case, "owner", step.at + grace)

    def _self_corrected(self, step: Step) -> None:
        self._ended(step)
        step.case.self_corrected = True

    def _ended(self, step: Step) -> None:
        step.case.closed_at, step.case.void_reason = step.at, None
        self._cancel_timers(step.session, step.case)

    def _voided(self, step: Step) -> None:
        self._ended(step)
        step.case.void_reason = step.reason


@dataclass(frozen=True)
class Step:
    """One action being taken, as its effect sees it."""

    session: Session
    case: CaseRow
    actor: str
    reason: str | None
    data: dict[str, Any]
    at: datetime
    role: Role = Role.system
    notes: list[NotificationRow] = field(default_factory=list)  # whom the effect tells now


# What each action of lifecycle.RULES does to the case besides its state. resume changes only
# the state; dispatch, reroute and escalate run their own paths (a new assignee).
EFFECTS: dict[str, Callable[[Actions, Step], None]] = {
    "accept": Actions._accepted,
    "handle": Actions._handled,
    "return": Actions._returned,
    "verify": Actions._verified,
    "reject": Actions._rejected,
    "rate": Actions._rated,
    "extend": Actions._extended,
    "close": Actions._ended,
    "self_correct": Actions._self_corrected,
    "notify_owner": Actions._owner_notified,
    "consult": Actions._consulted,
    "void": Actions._voided,
}
STATE_ONLY = frozenset({"resume"})
OWN_PATHS = frozenset({"dispatch", "reroute", "escalate"})
CITY_TOPICS = {"close": "case.closed", "void": "case.voided"}  # what the city platform is told
