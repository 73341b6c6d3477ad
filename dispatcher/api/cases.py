"""Cases: list and read what the caller may see, and take the closed loop's actions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from contract.events import Identifier, Sha256
from dispatcher.api.deps import Caller, IsoTime, RowId, ServicesDep, for_people, person_of, reading, require
from dispatcher.api.shapes import CaseDetail, CaseSummary, Seen
from dispatcher.auth import PEOPLE_ROLES, Principal
from dispatcher.cases import MAX_EXTEND_MIN, ActionResult, CaseActionError, CaseQuery
from dispatcher.services import Services

router = APIRouter(prefix="/api/v1/cases", tags=["cases"], dependencies=[Depends(require(*PEOPLE_ROLES))])


class ResolveBody(BaseModel):
    note: str | None = Field(default=None, max_length=2000)


class ActionData(BaseModel):
    """What an action takes besides its reason; nothing else is kept in the audit trail."""

    model_config = ConfigDict(extra="forbid")

    rating: int | None = Field(default=None, ge=1, le=5, description="rate: 1 (poor) to 5 (very satisfied)")
    minutes: float | None = Field(default=None, gt=0, le=MAX_EXTEND_MIN, allow_inf_nan=False,
                                  description="extend: more minutes on the handling deadline (at most 30 days)")
    micro_grid: Identifier | None = Field(default=None, description="reroute: the micro-grid to send the case to")
    after_photo_sha256: Sha256 | None = Field(default=None,
                                              description="handle: the SHA-256 of an after photo you uploaded")
    photo_sha256: Sha256 | None = Field(default=None,
                                        description="verify: the leader's photo on site, one they uploaded")


class ActionBody(BaseModel):
    reason: str | None = Field(default=None, max_length=2000)
    data: ActionData = Field(default_factory=ActionData)


def present(svc: Services, summary: dict[str, Any]) -> dict[str, Any]:
    """A case as the API shows it: evidence links signed so that an <img> can load them."""
    out = dict(summary)
    for key in ("snapshot_url", "before_url", "cleared_snapshot_url"):
        out[key] = svc.links.sign(out.get(key))
    out["objects"] = [  # each object's crop (contract 1.4), signed as the snapshots are
        {**obj, "crop": {**obj["crop"], "url": svc.links.sign(obj["crop"]["url"])}} if obj.get("crop") else obj
        for obj in out.get("objects") or []
    ]
    photo = out.get("after_photo_sha256")
    out["after_photo_url"] = svc.links.image(photo) if photo else None
    return out


@router.get("", response_model=list[CaseSummary])
def list_cases(
    svc: ServicesDep,
    who: Caller,
    state: str | None = None,
    micro_grid: str | None = None,
    worker_id: str | None = None,
    kind: str | None = None,
    since: IsoTime | None = None,
    until: IsoTime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    """The caller's cases, newest first: all for dispatchers and admins, a worker's own, a
    leader's micro-grids'. ``since``/``until`` bound the time the case opened."""
    query = CaseQuery(state, micro_grid, worker_id, kind, since, until, limit)
    return [present(svc, c) for c in svc.cases.summaries(svc.auth.case_filter(who), query)]


@router.get("/{case_id}", response_model=CaseDetail)
def get_case(case_id: RowId, svc: ServicesDep, who: Caller) -> dict[str, Any]:
    return present(svc, reading(svc.cases.detail, case_id, svc.auth.case_filter(who)))


@router.post("/{case_id}/seen", response_model=Seen)
def case_seen(case_id: RowId, svc: ServicesDep, who: Caller) -> dict[str, bool]:
    """The caller's page showed the case: if they are the one who must act on it now, it
    counts as delivered to them (reading a case with GET changes nothing)."""
    delivered = reading(svc.cases.case_seen, case_id, person_of(who), svc.auth.case_filter(who))
    return {"delivered": delivered}


def _act(svc: Services, who: Principal, case_id: int, action: str, reason: str | None,
         data: dict[str, Any]) -> dict[str, Any]:
    person = person_of(who)
    reading(svc.cases.check_visible, case_id, svc.auth.case_filter(who))
    try:
        result: ActionResult = svc.cases.act(case_id, action, person, reason, data)
    except LookupError as exc:
        raise HTTPException(404, for_people(exc)) from None
    except PermissionError as exc:
        raise HTTPException(403, for_people(exc)) from None
    except CaseActionError as exc:
        raise HTTPException(409, for_people(exc)) from None
    svc.notifier.submit(result.deliveries)
    shown = present(svc, result.case)
    svc.feed.publish({"type": "case", "action": action, "case": shown})
    return shown


@router.post("/{case_id}/actions/{action}", response_model=CaseSummary)
def case_action(case_id: RowId, action: str, body: ActionBody, svc: ServicesDep, who: Caller) -> dict[str, Any]:
    """One step of the closed loop, taken by the logged-in person: accept, return, reroute,
    consult, resume, handle, reject, verify, rate, close, extend, void, escalate (dispatcher/lifecycle.py)."""
    return _act(svc, who, case_id, action, body.reason, body.data.model_dump(exclude_none=True))


@router.post("/{case_id}/acknowledge", response_model=CaseSummary)
def acknowledge(case_id: RowId, svc: ServicesDep, who: Caller) -> dict[str, Any]:
    """The worker accepts the case (the ``accept`` action)."""
    return _act(svc, who, case_id, "accept", None, {})


@router.post("/{case_id}/resolve", response_model=CaseSummary)
def resolve(case_id: RowId, body: ResolveBody, svc: ServicesDep, who: Caller) -> dict[str, Any]:
    """The worker reports it handled (the ``handle`` action), with what was done."""
    return _act(svc, who, case_id, "handle", body.note, {})
