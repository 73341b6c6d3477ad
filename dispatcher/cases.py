"""Cases: an ``opened`` event opens a case, dispatched to the micro-grid's worker; people move
it through the closed loop (``lifecycle``); ``cleared`` records that the camera saw the spot
free and verifies a handled case. Every event is stored once, by event_id; every action is
written to the audit trail; deadlines are stored as timers in the same transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from contract import EventState, ViolationEvent
from dispatcher.config import EscalationConfig
from dispatcher.db import (
    CaseRow,
    CaseTransitionRow,
    EventRow,
    NotificationRow,
    PushSubscriptionRow,
    TimerRow,
    now,
)
from dispatcher.grid import Grid
from dispatcher.lifecycle import OPEN_STATES, CaseState, Role, TransitionError, next_state
from dispatcher.routing import route

log = logging.getLogger(__name__)

CAMERA = "camera"
SYSTEM = "system"


class CaseActionError(ValueError):
    """An action that does not apply to the case in its present state."""


@dataclass(frozen=True)
class IngestResult:
    duplicate: bool
    case_id: int | None
    opened: bool
    notification_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class ActionResult:
    case: dict[str, Any]
    notification_ids: tuple[int, ...] = ()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def case_summary(case: CaseRow) -> dict[str, Any]:
    out: dict[str, Any] = {
        c: getattr(case, c)
        for c in (
            "id", "violation_id", "kind", "state", "edge_id", "camera_id", "zone_id", "micro_grid", "worker_id",
            "leader_id", "department_id", "assignee_id", "escalation_level", "routing_note", "handling_note",
            "after_photo_sha256", "verified_by", "rating", "void_reason", "dwell_s", "objects", "snapshot_url",
            "snapshot_sha256",
        )
    }
    for c in ("started_at", "opened_at", "accepted_at", "handled_at", "verified_at", "closed_at", "handle_due_at",
              "cleared_at"):
        out[c] = _iso(getattr(case, c))
    return out


def transition_summary(row: CaseTransitionRow) -> dict[str, Any]:
    return {"action": row.action, "from": row.from_state, "to": row.to_state, "actor_id": row.actor_id,
            "actor_role": row.actor_role, "reason": row.reason, "data": row.data, "at": row.at.isoformat()}


def _placement(event: ViolationEvent) -> dict[str, Any]:
    """The columns an event and its case share: which violation, of what kind, where, since when."""
    return {
        "violation_id": str(event.violation_id),
        "kind": event.kind.value,
        "edge_id": event.edge_id,
        "camera_id": event.camera_id,
        "zone_id": event.zone_id,
        "micro_grid": event.micro_grid,
        "started_at": event.started_at,
    }


class CaseService:
    def __init__(self, sessions: sessionmaker, grid: Grid, escalation: EscalationConfig | None = None) -> None:
        self.sessions = sessions
        self.grid = grid
        self.escalation = escalation or EscalationConfig()

    # --- ingest -------------------------------------------------------------------------

    def ingest(self, event: ViolationEvent) -> IngestResult:
        """Store ``event`` once and apply it; a repeated event_id changes nothing."""
        with self.sessions() as session:
            try:
                result = self._apply(session, event)
                session.commit()
                return result
            except IntegrityError:
                session.rollback()
                if session.get(EventRow, str(event.event_id)) is not None:
                    return IngestResult(True, None, False)
                raise

    def _apply(self, session: Session, event: ViolationEvent) -> IngestResult:
        if session.get(EventRow, str(event.event_id)) is not None:
            return IngestResult(True, None, False)
        violation_id = str(event.violation_id)
        case = session.scalar(select(CaseRow).where(CaseRow.violation_id == violation_id))
        opened = False
        notifications: list[NotificationRow] = []
        if case is None and event.state is not EventState.cleared:
            case, notifications = self._open_case(session, event)
            opened = True
            earlier_clear = session.scalar(
                select(EventRow).where(EventRow.violation_id == violation_id, EventRow.state == "cleared")
            )
            if earlier_clear is not None:  # events arrived out of order
                self._camera_cleared(session, case, earlier_clear.observed_at)
                earlier_clear.case_id = case.id
        elif case is not None:
            if event.state is EventState.cleared:
                self._camera_cleared(session, case, event.observed_at)
            else:
                case.dwell_s = max(case.dwell_s, event.dwell_s)
                if event.snapshot:
                    case.snapshot_url, case.snapshot_sha256 = event.snapshot.url, event.snapshot.sha256
        session.add(
            EventRow(
                event_id=str(event.event_id),
                state=event.state.value,
                observed_at=event.observed_at,
                **_placement(event),
                payload=event.model_dump(mode="json"),
                case_id=case.id if case is not None else None,
            )
        )
        session.flush()
        return IngestResult(False, case.id if case else None, opened, tuple(n.id for n in notifications))

    def _open_case(self, session: Session, event: ViolationEvent) -> tuple[CaseRow, list[NotificationRow]]:
        target = route(self.grid, event.micro_grid)
        case = CaseRow(
            state=CaseState.reported.value,
            **_placement(event),
            worker_id=target.worker_id,
            leader_id=target.leader_id,
            department_id=self.grid.departments.get(event.kind),
            routing_note=target.note,
            opened_at=now(),
            dwell_s=event.dwell_s,
            objects=[o.model_dump(mode="json") for o in event.objects],
            snapshot_url=event.snapshot.url if event.snapshot else None,
            snapshot_sha256=event.snapshot.sha256 if event.snapshot else None,
        )
        session.add(case)
        session.flush()
        self._record(session, case, "report", None, CaseState.reported, CAMERA, Role.system, None,
                     {"event_id": str(event.event_id)})
        if target.worker_id is None:
            log.warning("case %s: %s", case.id, target.note)
            return case, []
        return case, self._dispatch(session, case, target.worker_id, SYSTEM, Role.system, target.note)

    def _dispatch(
        self, session: Session, case: CaseRow, worker_id: str, actor: str, role: Role, reason: str | None
    ) -> list[NotificationRow]:
        previous = CaseState(case.state)
        case.state, case.worker_id, case.assignee_id, case.escalation_level = (
            CaseState.dispatched.value, worker_id, worker_id, 0)
        self._record(session, case, "dispatch" if previous is CaseState.reported else "reroute", previous,
                     CaseState.dispatched, actor, role, reason, {"assignee_id": worker_id})
        self._cancel_timers(session, case)
        policy = self.escalation.policy(case.kind)
        self._start_timer(session, case, "accept", now() + timedelta(minutes=policy.accept_within_min))
        return self.notify(session, case, worker_id)

    def _camera_cleared(self, session: Session, case: CaseRow, at: datetime) -> None:
        case.cleared_at = at
        if case.state == CaseState.handled.value:
            self._transition(session, case, "verify", CAMERA, Role.system, "the camera sees the spot free", {})

    # --- people's actions ---------------------------------------------------------------

    def role_of(self, person_id: str) -> Role:
        person = self.grid.person(person_id)
        if person is None:
            raise PermissionError(f"{person_id!r} is not a person in the grid file")
        return Role(person.role) if person.role != "department" else Role.leader

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
                raise LookupError(f"no case {case_id}")
            if not self._may_act(case, person_id, role):
                raise PermissionError(f"{person_id} is not responsible for case {case_id}")
            notes: list[NotificationRow] = []
            try:
                if action == "reroute":
                    notes = self._reroute(session, case, person_id, role, reason, data)
                else:
                    self._transition(session, case, action, person_id, role, reason, data)
            except TransitionError as exc:
                raise CaseActionError(str(exc)) from None
            session.commit()
            return ActionResult(case_summary(case), tuple(n.id for n in notes))

    def _reroute(
        self, session: Session, case: CaseRow, actor: str, role: Role, reason: str | None, data: dict[str, Any]
    ) -> list[NotificationRow]:
        next_state("reroute", CaseState(case.state), role, reason)
        grid_id = str(data.get("micro_grid") or case.micro_grid)
        target = route(self.grid, grid_id)
        if target.worker_id is None:
            raise TransitionError(target.note)
        case.micro_grid, case.leader_id, case.routing_note = grid_id, target.leader_id, target.note
        return self._dispatch(session, case, target.worker_id, actor, role, reason)

    def _transition(
        self, session: Session, case: CaseRow, action: str, actor: str, role: Role, reason: str | None,
        data: dict[str, Any],
    ) -> None:
        before = CaseState(case.state)
        after = next_state(action, before, role, reason)
        at = now()
        policy = self.escalation.policy(case.kind)
        if action == "accept":
            case.accepted_at = at
            self._cancel_timers(session, case)
            case.handle_due_at = at + timedelta(minutes=policy.handle_within_min)
            self._start_timer(session, case, "handle", case.handle_due_at)
        elif action == "handle":
            photo = data.get("after_photo_sha256")
            if photo is not None and not (isinstance(photo, str) and len(photo) == 64):
                raise TransitionError("after_photo_sha256 must be the photo's hex SHA-256")
            case.handled_at, case.handling_note, case.after_photo_sha256 = at, reason, photo
            self._cancel_timers(session, case)
        elif action == "return":
            self._cancel_timers(session, case)
        elif action == "verify":
            case.verified_at, case.verified_by = at, actor
        elif action == "reject":
            case.handle_due_at = at + timedelta(minutes=policy.handle_within_min)
            self._start_timer(session, case, "handle", case.handle_due_at)
        elif action == "rate":
            rating = data.get("rating")
            if not isinstance(rating, int) or not 1 <= rating <= 5:
                raise TransitionError("rate needs a rating from 1 to 5")
            case.rating = rating
        elif action == "extend":
            minutes = data.get("minutes")
            if not isinstance(minutes, int | float) or minutes <= 0:
                raise TransitionError("extend needs minutes > 0")
            base = max(case.handle_due_at or at, at)
            case.handle_due_at = base + timedelta(minutes=minutes)
            self._cancel_timers(session, case, "handle")
            self._start_timer(session, case, "handle", case.handle_due_at)
        elif action in ("close", "void"):
            case.closed_at = at
            case.void_reason = reason if action == "void" else None
            self._cancel_timers(session, case)
        case.state = after.value
        self._record(session, case, action, before, after, actor, role, reason, data)

    # --- escalation ---------------------------------------------------------------------

    def escalate(self, session: Session, case: CaseRow, purpose: str, instance: str) -> list[NotificationRow]:
        """A deadline passed: hand the case one level up and tell that person. Runs inside
        the transaction that claimed the timer, so it happens once."""
        if CaseState(case.state) not in OPEN_STATES:
            return []
        policy = self.escalation.policy(case.kind)
        if purpose == "accept" and case.escalation_level == 0:
            level, target = 1, case.leader_id  # the worker did not accept: the micro-grid leader
        elif case.escalation_level < 2:
            level, target = 2, case.department_id  # the leader did not, or it was not handled in time
        else:
            level, target = case.escalation_level, None
        if target is None:
            self._record(session, case, "escalate", CaseState(case.state), CaseState(case.state), instance,
                         Role.system, f"{purpose} deadline passed; nobody further up to escalate to", {})
            return []
        case.escalation_level, case.assignee_id = level, target
        reason = "not accepted in time" if purpose == "accept" else "not handled by the deadline"
        self._record(session, case, "escalate", CaseState(case.state), CaseState(case.state), instance,
                     Role.system, reason, {"assignee_id": target, "level": level, "timer": purpose})
        if purpose == "accept" and level < 2:
            self._start_timer(session, case, "accept", now() + timedelta(minutes=policy.accept_within_min))
        return self.notify(session, case, target)

    # --- helpers ------------------------------------------------------------------------

    def _record(
        self, session: Session, case: CaseRow, action: str, before: CaseState | None, after: CaseState, actor: str,
        role: Role, reason: str | None, data: dict[str, Any],
    ) -> None:
        session.add(CaseTransitionRow(
            case_id=case.id, action=action, from_state=before.value if before else None, to_state=after.value,
            actor_id=actor, actor_role=role.value, reason=reason, data=data, at=now(),
        ))

    def _start_timer(self, session: Session, case: CaseRow, purpose: str, due: datetime) -> None:
        session.add(TimerRow(case_id=case.id, purpose=purpose, due_at=due))

    def _cancel_timers(self, session: Session, case: CaseRow, purpose: str | None = None) -> None:
        query = update(TimerRow).where(
            TimerRow.case_id == case.id, TimerRow.fired_at.is_(None), TimerRow.cancelled_at.is_(None)
        )
        if purpose:
            query = query.where(TimerRow.purpose == purpose)
        session.execute(query.values(cancelled_at=now()))

    def notify(self, session: Session, case: CaseRow, person_id: str) -> list[NotificationRow]:
        """An inbox entry for ``person_id`` and one Web Push per subscribed device."""
        rows = [NotificationRow(case_id=case.id, person_id=person_id, channel="inbox", status="delivered")]
        subs = session.scalars(select(PushSubscriptionRow).where(PushSubscriptionRow.person_id == person_id)).all()
        rows += [
            NotificationRow(case_id=case.id, person_id=person_id, channel="webpush", status="pending",
                            subscription_id=sub.id)
            for sub in subs
        ]
        session.add_all(rows)
        session.flush()
        return rows
