"""Fires the stored deadlines of cases (escalation timers).

Timers live in the database, so a restarted dispatcher finds them again. Each instance
polls for due timers and *claims* each with a conditional update (``fired_at`` from NULL to
now): on SQLite and PostgreSQL alike only one instance's update matches, and the escalation
it causes is written in the same transaction, so a timer fires exactly once however many
dispatchers run.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select, update

from dispatcher.cases import CaseService, deliveries
from dispatcher.db import CaseRow, TimerRow, now
from dispatcher.periodic import PeriodicWorker

log = logging.getLogger(__name__)


def default_instance_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class EscalationScheduler(PeriodicWorker):
    def __init__(
        self,
        cases: CaseService,
        on_notifications: Callable[[tuple[int, ...]], None],
        poll_s: float = 5.0,
        instance_id: str | None = None,
        batch: int = 100,
    ) -> None:
        super().__init__("escalation timers", poll_s)
        self.cases = cases
        self.on_notifications = on_notifications
        self.instance_id = instance_id or default_instance_id()
        self.batch = batch
        self.fired = 0

    def tick(self) -> int:
        return self.run_due()

    def run_due(self, at: datetime | None = None) -> int:
        """Fire every timer due at ``at`` (default: now) that no one has fired; returns how many."""
        at = at or now()
        fired = 0
        with self.cases.sessions() as session:
            due = session.scalars(
                select(TimerRow.id)
                .where(TimerRow.due_at <= at, TimerRow.fired_at.is_(None), TimerRow.cancelled_at.is_(None))
                .order_by(TimerRow.due_at)
                .limit(self.batch)
            ).all()
        for timer_id in due:
            with self.cases.sessions() as session:
                claimed = session.execute(
                    update(TimerRow)
                    .where(TimerRow.id == timer_id, TimerRow.fired_at.is_(None), TimerRow.cancelled_at.is_(None))
                    .values(fired_at=now(), fired_by=self.instance_id)
                ).rowcount
                if claimed != 1:
                    session.rollback()
                    continue  # another instance took it, or it was cancelled meanwhile
                timer = session.get(TimerRow, timer_id)
                case = session.get(CaseRow, timer.case_id, with_for_update=True)
                notes = self.cases.escalate(session, case, timer.purpose, self.instance_id)
                session.commit()
                fired += 1
                self.on_notifications(deliveries(notes))
        self.fired += fired
        return fired
