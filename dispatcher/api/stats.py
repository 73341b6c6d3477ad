"""Figures: case counts (by state, kind, micro-grid) and the monthly assessment of workers and
micro-grids, as JSON and CSV."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import PlainTextResponse
from pydantic import AfterValidator

from dispatcher.api.deps import Caller, IsoTime, ServicesDep, require
from dispatcher.api.shapes import Stats
from dispatcher.assessment import AssessmentRow, assess_month, checked_month, to_csv
from dispatcher.auth import Principal
from i18n import translator

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
    return svc.cases.counts(svc.auth.case_filter(who), since, until)


def _workers(svc: ServicesDep) -> dict[str, str]:
    """Each micro-grid's worker (its online rate is the micro-grid's)."""
    return {g.id: g.worker for g in svc.grid.micro_grids}


@router.get("/assessment", response_model=list[AssessmentRow])
def assessment(svc: ServicesDep, _: Assessor, month: Month, by: By = "worker") -> list[AssessmentRow]:
    """Per worker or micro-grid, for the cases opened in ``month``."""
    return assess_month(svc.sessions, month, by, svc.config.escalation, svc.config.timezone, _workers(svc))


@router.get("/assessment.csv", response_class=PlainTextResponse)
def assessment_csv(svc: ServicesDep, _: Assessor, month: Month, by: By = "worker") -> PlainTextResponse:
    rows = assess_month(svc.sessions, month, by, svc.config.escalation, svc.config.timezone, _workers(svc))
    return PlainTextResponse(to_csv(rows, translator(svc.config.locale)), media_type="text/csv", headers={
        "content-disposition": f'attachment; filename="assessment-{by}-{month}.csv"'})
