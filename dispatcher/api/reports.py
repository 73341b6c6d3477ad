"""Cases from people: a worker's or leader's patrol report (巡查上报) from the phone page, and the
city hotline's tickets (12345) from the city platform (a machine token of role ``admin``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Response
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from contract import ViolationKind
from contract.events import Identifier, Sha256
from dispatcher.api.cases import present
from dispatcher.api.deps import Caller, ServicesDep, for_people, not_a_bool, person_of, require
from dispatcher.api.shapes import CaseSummary
from dispatcher.cases import CaseActionError, PeopleReport
from dispatcher.lifecycle import TransitionError

router = APIRouter(prefix="/api/v1", tags=["reports"])


def _iso_text(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("an ISO 8601 time, e.g. 2026-12-04T09:58:00+08:00")
    return value


Number = Annotated[float, BeforeValidator(not_a_bool)]
IsoDateTime = Annotated[datetime, BeforeValidator(_iso_text)]


class Place(BaseModel):
    """Where: a micro-grid, or a place on the map (WGS-84) the grid's areas locate."""

    model_config = ConfigDict(extra="forbid")

    micro_grid: Identifier | None = None
    lon: Number | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False)
    lat: Number | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False)


class PatrolReport(Place):
    kind: ViolationKind
    note: str = Field(min_length=1, max_length=2000, description="What the worker saw")
    photo_sha256: Sha256 = Field(description="The photo the worker took and uploaded (PUT /api/v1/evidence/...)")


class HotlineTicket(Place):
    ticket_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$",
                           description="The hotline's own id: a ticket sent twice is one case")
    kind: ViolationKind
    description: str = Field(min_length=1, max_length=2000)
    address: str | None = Field(default=None, max_length=200)
    reported_at: IsoDateTime | None = None


def _open(svc: ServicesDep, report: PeopleReport, response: Response) -> dict[str, Any]:
    try:
        result, new = svc.cases.report(report, svc.config.public_url())
    except (TransitionError, CaseActionError) as exc:
        raise HTTPException(409, for_people(exc)) from None
    svc.notifier.submit(result.deliveries)
    shown = present(svc, result.case)
    if new:
        svc.feed.publish({"type": "case", "action": "report", "case": shown})
    response.status_code = 201 if new else 200
    return shown


@router.post("/reports", response_model=CaseSummary, status_code=201,
             dependencies=[Depends(require("worker", "leader"))])
def patrol_report(body: PatrolReport, svc: ServicesDep, who: Caller, response: Response) -> dict[str, Any]:
    """A patrol report (巡查上报): a case at the worker's place, routed and dispatched like a
    camera's (to the micro-grid's worker, who may be the reporter)."""
    report = PeopleReport("patrol", person_of(who), body.kind, body.note, body.micro_grid, body.lon, body.lat,
                          body.photo_sha256)
    return _open(svc, report, response)


@router.post("/hotline-cases", response_model=CaseSummary, status_code=201,
             dependencies=[Depends(require("admin"))])
def hotline_case(body: HotlineTicket, svc: ServicesDep, response: Response) -> dict[str, Any]:
    """A ticket of the city hotline (12345) as a case: 201 when new, 200 (the same case) when
    the ticket was sent before."""
    note = f"{body.description} ({body.address})" if body.address else body.description
    report = PeopleReport("hotline", "12345", body.kind, note, body.micro_grid, body.lon, body.lat,
                          ticket_id=body.ticket_id, reported_at=body.reported_at)
    return _open(svc, report, response)
