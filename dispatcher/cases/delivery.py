"""Delivery and escalation: whether a case reached the person who must act, the next channel of
their chain, and deadlines that hand the case one level up (stand-in, leader, department)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatcher.cases.reading import Reading, Where
from dispatcher.db import CaseRow, NotificationRow, now
from dispatcher.lifecycle import OPEN_STATES, CaseState, Role
from dispatcher.routing import route
from i18n import Msg
from i18n.terms import word


class Delivery(Reading):
    """Whether a case reached its assignee, and what happens when it did not or a deadline passed."""

    def mark_delivered(self, session: Session, case_id: int, person_id: str, how: str) -> bool:
        """A channel confirmed, or ``person_id`` opened the case: if they are the one who must
        act now, the case counts as delivered (no delivery escalation). Returns whether it did."""
        case = session.get(CaseRow, case_id)
        if case is None or case.assignee_id != person_id or case.delivered_at is not None:
            return False
        case.delivered_at = now()
        self._record(session, case, "delivered", CaseState(case.state), CaseState(case.state), person_id,
                     Role.system, how, {})
        return True

    def case_seen(self, case_id: int, person_id: str, where: Where) -> bool:
        """``person_id``'s page showed the case (which ``where`` lets them see): delivered if
        they must act on it now. LookupError or PermissionError as ``Reading.visible``."""
        with self.sessions() as session:
            case = self.visible(session, case_id, where)
            delivered = self.mark_delivered(session, case.id, person_id, Msg("opened by the assignee"))
            session.commit()
            return delivered

    def inbox_seen(self, person_id: str, notification_ids: list[int]) -> tuple[int, int]:
        """``person_id``'s page showed these inbox entries: each is read, and each case they
        must act on counts as delivered. Returns (entries seen, cases delivered)."""
        with self.sessions() as session:
            rows = session.execute(
                select(NotificationRow, CaseRow).join(CaseRow, NotificationRow.case_id == CaseRow.id)
                .where(NotificationRow.id.in_(notification_ids), NotificationRow.person_id == person_id,
                       NotificationRow.channel == "inbox")).all()
            delivered = 0
            for note, case in rows:
                if note.status == "unread":
                    note.status, note.updated_at = "read", now()
                delivered += self.mark_delivered(session, case.id, person_id, Msg("seen on the worker page"))
            session.commit()
            return len(rows), delivered

    def delivery_check(self, session: Session, case_id: int, person_id: str, due: datetime) -> bool:
        """Nothing confirmed delivery to ``person_id`` yet: at ``due`` a ``deliver`` timer tries
        their next channel or, at the chain's end, escalates (fired once, by the scheduler)."""
        case = session.get(CaseRow, case_id)
        if (case is None or case.assignee_id != person_id or case.delivered_at is not None
                or case.state != CaseState.dispatched.value):
            return False
        self._cancel_timers(session, case, "deliver")
        self._start_timer(session, case, "deliver", due)
        return True

    def _next_channel(self, session: Session, case: CaseRow) -> list[NotificationRow]:
        """The assignee's next standby place, made pending; none when the chain is spent."""
        standby = session.scalars(select(NotificationRow).where(
            NotificationRow.case_id == case.id, NotificationRow.person_id == case.assignee_id,
            NotificationRow.status == "standby").order_by(NotificationRow.position, NotificationRow.id)).all()
        place = [n for n in standby if n.position == standby[0].position] if standby else []
        for note in place:
            note.status, note.updated_at = "pending", now()
        return place

    def escalate(self, session: Session, case: CaseRow, purpose: str, instance: str) -> list[NotificationRow]:
        """A deadline passed: hand the case one level up and tell that person. Runs inside
        the transaction that claimed the timer, so it happens once."""
        if CaseState(case.state) not in OPEN_STATES:
            return []
        if purpose == "owner":  # the shop's grace ended with the strip still taken: send the worker
            if case.state != CaseState.owner_notified.value:
                return []
            target = route(self.grid, case.micro_grid)
            if target.worker_id is None:
                case.state = CaseState.reported.value  # nobody to send: it waits for dispatch by hand
                return []
            return self._dispatch(session, case, target.worker_id, instance, Role.system,
                                  Msg("the shop did not put it right within the grace period"))
        if purpose == "deliver":
            if case.delivered_at is not None or case.state != CaseState.dispatched.value:
                return []  # reached after all (opened, a late receipt) or already taken up
            following = self._next_channel(session, case)
            if following:
                return following  # the chain goes on; escalation only once it is spent
        stand_in = self._stand_in_for(case)
        first_step = purpose in ("accept", "deliver")
        if first_step and case.escalation_level == 0 and stand_in is not None:
            level, target = 0, stand_in  # the worker did not accept: the micro-grid's stand-in first
        elif first_step and case.escalation_level == 0:
            level, target = 1, case.leader_id  # nor the stand-in: the micro-grid leader
        elif case.escalation_level < 2:
            level, target = 2, case.department_id  # the leader did not, or it was not handled in time
        else:
            level, target = case.escalation_level, None
        if target is None:
            self._record(session, case, "escalate", CaseState(case.state), CaseState(case.state), instance,
                         Role.system, Msg("{timer} deadline passed; nobody further up to escalate to",
                                          timer=word("timer", purpose)), {})
            return []
        case.escalation_level, case.assignee_id = level, target
        reason = {"accept": Msg("not accepted in time"), "deliver": Msg("no channel reached the assignee")}.get(
            purpose, Msg("not handled by the deadline"))
        self._record(session, case, "escalate", CaseState(case.state), CaseState(case.state), instance,
                     Role.system, reason, {"assignee_id": target, "level": level, "timer": purpose,
                                           "stand_in": target == stand_in})
        if first_step and level < 2:
            self._cancel_timers(session, case, "accept")
            self._start_timer(session, case, "accept", self.escalation.accept_due(case.kind, now()))
        return self.notify(session, case, target)

    def _stand_in_for(self, case: CaseRow) -> str | None:
        """The micro-grid's stand-in, if the case has not been with them yet and they are not away."""
        cell = self.grid.micro_grid(case.micro_grid)
        if cell is None or cell.stand_in is None or self.grid.away(cell.stand_in, now()):
            return None
        if cell.stand_in in (case.assignee_id, case.worker_id):
            return None
        return cell.stand_in
