"""Reading cases for the API: what a caller may see (``where``: ``AuthService.case_filter``),
lists and details, inboxes and figures. Nothing here writes; the routers call these instead
of querying the tables themselves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from dispatcher.cases.core import CaseCore
from dispatcher.cases.views import case_summary, notification_view, transition_summary
from dispatcher.db import CaseRow, NotificationRow, now
from dispatcher.lifecycle import OPEN_STATES
from i18n import Msg

Where = ColumnElement[bool]


@dataclass(frozen=True)
class CaseQuery:
    """The list's filters: equal to each given value; opened in [since, until)."""

    state: str | None = None
    micro_grid: str | None = None
    worker_id: str | None = None
    kind: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100


class Reading(CaseCore):
    """Cases as the API shows them, limited to what the caller may see."""

    def visible(self, session: Session, case_id: int, where: Where) -> CaseRow:
        """The case if the caller may see it; LookupError (no such case) or PermissionError."""
        case = session.scalar(select(CaseRow).where(CaseRow.id == case_id, where))
        if case is None:
            if session.get(CaseRow, case_id) is not None:
                raise PermissionError(Msg("case {id} is not yours to see", id=case_id))
            raise LookupError(Msg("no case {id}", id=case_id))
        return case

    def check_visible(self, case_id: int, where: Where) -> None:
        """As ``visible``, in a session of its own (before an action takes its lock)."""
        with self.sessions() as session:
            self.visible(session, case_id, where)

    def summaries(self, where: Where, query: CaseQuery) -> list[dict[str, Any]]:
        """The caller's cases, newest first."""
        statement = select(CaseRow).where(where).order_by(CaseRow.id.desc()).limit(query.limit)
        for column, value in ((CaseRow.state, query.state), (CaseRow.micro_grid, query.micro_grid),
                              (CaseRow.worker_id, query.worker_id), (CaseRow.kind, query.kind)):
            if value is not None:
                statement = statement.where(column == value)
        if query.since is not None:
            statement = statement.where(CaseRow.opened_at >= query.since)
        if query.until is not None:
            statement = statement.where(CaseRow.opened_at < query.until)
        with self.sessions() as session:
            return [case_summary(c) for c in session.scalars(statement)]

    def detail(self, case_id: int, where: Where) -> dict[str, Any]:
        """One case with its audit trail and the notifications that told people about it."""
        with self.sessions() as session:
            case = self.visible(session, case_id, where)
            out = case_summary(case)
            out["timeline"] = [transition_summary(t) for t in case.transitions]
            out["notifications"] = [notification_view(n) for n in case.notifications]
            return out

    def inbox(self, person_id: str, limit: int = 200) -> list[dict[str, Any]]:
        """A person's inbox entries, newest first, each with its case's summary."""
        with self.sessions() as session:
            rows = session.execute(
                select(NotificationRow, CaseRow).join(CaseRow, NotificationRow.case_id == CaseRow.id)
                .where(NotificationRow.person_id == person_id, NotificationRow.channel == "inbox")
                .order_by(NotificationRow.id.desc()).limit(limit)).all()
            return [{"notification_id": n.id, "status": n.status, "case": case_summary(c)} for n, c in rows]

    def open_by_micro_grid(self) -> dict[str, int]:
        with self.sessions() as session:
            return dict(session.execute(select(CaseRow.micro_grid, func.count()).where(
                CaseRow.state.in_([s.value for s in OPEN_STATES])).group_by(CaseRow.micro_grid)).all())

    def latest_snapshot(self, camera_id: str) -> str | None:
        """The newest evidence image of a camera's cases (its URL as stored)."""
        with self.sessions() as session:
            return session.scalar(select(CaseRow.snapshot_url).where(
                CaseRow.camera_id == camera_id, CaseRow.snapshot_url.is_not(None)).order_by(CaseRow.id.desc()).limit(1))

    def counts(self, where: Where, since: datetime | None = None, until: datetime | None = None) -> dict[str, Any]:
        """How many cases the caller may see: in all, open, overdue, not yet delivered, and by
        state, kind and micro-grid."""
        conditions = [where]
        if since is not None:
            conditions.append(CaseRow.opened_at >= since)
        if until is not None:
            conditions.append(CaseRow.opened_at < until)
        open_states = [s.value for s in OPEN_STATES]
        with self.sessions() as session:
            def count_by(column: Any) -> dict[str, int]:
                rows = session.execute(select(column, func.count()).where(*conditions).group_by(column)).all()
                return {str(key): n for key, n in rows}

            def count(*extra: Any) -> int:
                return session.scalar(select(func.count()).select_from(CaseRow).where(*conditions, *extra)) or 0

            return {
                "total": count(),
                "open": count(CaseRow.state.in_(open_states)),
                "overdue": count(CaseRow.state.in_(open_states), CaseRow.handle_due_at < now()),
                "undelivered": count(CaseRow.state == "dispatched", CaseRow.delivered_at.is_(None)),
                "by_state": count_by(CaseRow.state),
                "by_kind": count_by(CaseRow.kind),
                "by_micro_grid": count_by(CaseRow.micro_grid),
            }
