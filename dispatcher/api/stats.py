"""Figures: case counts (by state, kind, micro-grid) and the monthly assessment of workers and
micro-grids, as JSON and CSV."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import PlainTextResponse
from pydantic import AfterValidator
from sqlalchemy import func, select

from dispatcher.api.deps import Caller, IsoTime, ServicesDep, require
from dispatcher.api.shapes import AssessmentView, Stats
from dispatcher.assessment import assess, checked_month, to_csv
from dispatcher.auth import Principal
from dispatcher.db import CaseRow, now
from dispatcher.lifecycle import OPEN_STATES

router = APIRouter(prefix="/api/v1", tags=["assessment"])
Assessor = Annotated[Principal, Depends(require("admin", "dispatcher", "leader"))]
Month = Annotated[str, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM"),
                  AfterValidator(checked_month)]
By = Annotated[Literal["worker", "micro_grid"], Query()]


@router.get("/stats", response_model=Stats)
def stats(svc: ServicesDep, who: Caller, since: IsoTime | None = None,
          until: IsoTime | None = None) -> dict[str, Any]:
    """Counts of the cases the caller may see, by state, kind and micro-grid, and how many are
    open, overdue (past their handling deadline) and not yet delivered to their assignee."""
    where = [svc.auth.case_filter(who)]
    if since is not None:
        where.append(CaseRow.opened_at >= since)
    if until is not None:
        where.append(CaseRow.opened_at < until)
    open_states = [s.value for s in OPEN_STATES]
    with svc.sessions() as session:
        def count_by(column: Any) -> dict[str, int]:
            rows = session.execute(select(column, func.count()).where(*where).group_by(column)).all()
            return {str(key): n for key, n in rows}

        def count(*extra: Any) -> int:
            return session.scalar(select(func.count()).select_from(CaseRow).where(*where, *extra)) or 0

        return {
            "total": count(),
            "open": count(CaseRow.state.in_(open_states)),
            "overdue": count(CaseRow.state.in_(open_states), CaseRow.handle_due_at < now()),
            "undelivered": count(CaseRow.state == "dispatched", CaseRow.delivered_at.is_(None)),
            "by_state": count_by(CaseRow.state),
            "by_kind": count_by(CaseRow.kind),
            "by_micro_grid": count_by(CaseRow.micro_grid),
        }


@router.get("/assessment", response_model=list[AssessmentView])
def assessment(svc: ServicesDep, _: Assessor, month: Month, by: By = "worker") -> list[dict[str, Any]]:
    """Per worker or micro-grid, for the cases opened in ``month``."""
    with svc.sessions() as session:
        return [asdict(r) for r in assess(session, month, by, svc.config.escalation)]


@router.get("/assessment.csv", response_class=PlainTextResponse)
def assessment_csv(svc: ServicesDep, _: Assessor, month: Month, by: By = "worker") -> PlainTextResponse:
    with svc.sessions() as session:
        rows = assess(session, month, by, svc.config.escalation)
    return PlainTextResponse(to_csv(rows), media_type="text/csv", headers={
        "content-disposition": f'attachment; filename="assessment-{by}-{month}.csv"'})
