"""The monthly assessment of workers and micro-grids, as JSON and CSV."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import PlainTextResponse

from dispatcher.api.deps import ServicesDep, require
from dispatcher.assessment import assess, to_csv
from dispatcher.auth import Principal

router = APIRouter(prefix="/api/v1/assessment", tags=["assessment"])
Assessor = Annotated[Principal, Depends(require("admin", "dispatcher", "leader"))]
Month = Annotated[str, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")]
By = Annotated[Literal["worker", "micro_grid"], Query()]


@router.get("")
def assessment(svc: ServicesDep, _: Assessor, month: Month, by: By = "worker") -> list[dict[str, Any]]:
    """Per worker or micro-grid, for the cases opened in ``month``."""
    with svc.sessions() as session:
        return [asdict(r) for r in assess(session, month, by, svc.config.escalation)]


@router.get(".csv", response_class=PlainTextResponse)
def assessment_csv(svc: ServicesDep, _: Assessor, month: Month, by: By = "worker") -> PlainTextResponse:
    with svc.sessions() as session:
        rows = assess(session, month, by, svc.config.escalation)
    return PlainTextResponse(to_csv(rows), media_type="text/csv", headers={
        "content-disposition": f'attachment; filename="assessment-{by}-{month}.csv"'})
