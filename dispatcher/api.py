"""The HTTP API (FastAPI routers): cases, actions, inbox, push subscriptions, evidence,
the live feed (WebSocket) and health."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from dispatcher.assessment import assess, to_csv
from dispatcher.cases import ActionResult, CaseActionError, case_summary, transition_summary
from dispatcher.db import CaseRow, NotificationRow, PushSubscriptionRow, QuarantineRow
from dispatcher.evidence import EvidenceRejected
from dispatcher.services import Services


def services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(services)]

health = APIRouter(tags=["health"])
cases = APIRouter(prefix="/api/v1/cases", tags=["cases"])
people = APIRouter(prefix="/api/v1/people", tags=["people"])
evidence = APIRouter(prefix="/api/v1/evidence", tags=["evidence"])
feed = APIRouter(prefix="/api/v1", tags=["feed"])
stats = APIRouter(prefix="/api/v1/assessment", tags=["assessment"])


@health.get("/healthz")
def healthz(svc: ServicesDep) -> dict[str, Any]:
    stats = svc.ingest.stats
    return {
        "status": "ok",
        "mqtt_connected": stats.connected,
        "received": stats.received,
        "stored": stats.stored,
        "duplicates": stats.duplicates,
        "quarantined": stats.quarantined,
        "cases_opened": stats.cases_opened,
        "last_error": stats.last_error,
    }


class ActorBody(BaseModel):
    person_id: str = Field(min_length=1, max_length=64)


class ResolveBody(ActorBody):
    note: str | None = Field(default=None, max_length=2000)


class ActionBody(ActorBody):
    reason: str | None = Field(default=None, max_length=2000)
    data: dict[str, Any] = Field(
        default_factory=dict,
        description="rating (rate), minutes (extend), micro_grid (reroute), after_photo_sha256 (handle)",
    )


@cases.get("")
def list_cases(
    svc: ServicesDep,
    state: str | None = None,
    micro_grid: str | None = None,
    worker_id: str | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    query = select(CaseRow).order_by(CaseRow.id.desc()).limit(limit)
    for column, value in (
        (CaseRow.state, state), (CaseRow.micro_grid, micro_grid), (CaseRow.worker_id, worker_id), (CaseRow.kind, kind)
    ):
        if value is not None:
            query = query.where(column == value)
    if since is not None:
        query = query.where(CaseRow.opened_at >= since)
    with svc.sessions() as session:
        return [case_summary(c) for c in session.scalars(query)]


@cases.get("/{case_id}")
def get_case(case_id: int, svc: ServicesDep) -> dict[str, Any]:
    with svc.sessions() as session:
        case = session.get(CaseRow, case_id)
        if case is None:
            raise HTTPException(404, f"no case {case_id}")
        out = case_summary(case)
        out["timeline"] = [transition_summary(t) for t in case.transitions]
        out["notifications"] = [
            {"id": n.id, "person_id": n.person_id, "channel": n.channel, "status": n.status,
             "attempts": n.attempts, "detail": n.detail, "updated_at": n.updated_at.isoformat()}
            for n in case.notifications
        ]
        return out


def _act(action: Any) -> ActionResult:
    try:
        return action()
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from None
    except PermissionError as exc:
        raise HTTPException(403, str(exc)) from None
    except CaseActionError as exc:
        raise HTTPException(409, str(exc)) from None


def _apply(svc: Services, case_id: int, action: str, person_id: str, reason: str | None,
           data: dict[str, Any]) -> dict[str, Any]:
    result = _act(lambda: svc.cases.act(case_id, action, person_id, reason, data))
    svc.notifier.submit(result.deliveries)
    svc.feed.publish({"type": "case", "action": action, "case": result.case})
    return result.case


@cases.post("/{case_id}/actions/{action}")
def case_action(case_id: int, action: str, body: ActionBody, svc: ServicesDep) -> dict[str, Any]:
    """One step of the closed loop: accept, return, reroute, consult, resume, handle, reject,
    verify, rate, close, extend, void (see dispatcher/lifecycle.py)."""
    return _apply(svc, case_id, action, body.person_id, body.reason, body.data)


@cases.post("/{case_id}/acknowledge")
def acknowledge(case_id: int, body: ActorBody, svc: ServicesDep) -> dict[str, Any]:
    """The worker accepts the case (the ``accept`` action)."""
    return _apply(svc, case_id, "accept", body.person_id, None, {})


@cases.post("/{case_id}/resolve")
def resolve(case_id: int, body: ResolveBody, svc: ServicesDep) -> dict[str, Any]:
    """The worker reports it handled (the ``handle`` action), with what was done."""
    return _apply(svc, case_id, "handle", body.person_id, body.note, {})


Month = Annotated[str, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")]
By = Annotated[Literal["worker", "micro_grid"], Query()]


@stats.get("")
def assessment(svc: ServicesDep, month: Month, by: By = "worker") -> list[dict[str, Any]]:
    """Per worker or micro-grid, for the cases opened in ``month``."""
    with svc.sessions() as session:
        return [asdict(r) for r in assess(session, month, by, svc.config.escalation)]


@stats.get(".csv", response_class=PlainTextResponse)
def assessment_csv(svc: ServicesDep, month: Month, by: By = "worker") -> PlainTextResponse:
    with svc.sessions() as session:
        rows = assess(session, month, by, svc.config.escalation)
    return PlainTextResponse(to_csv(rows), media_type="text/csv", headers={
        "content-disposition": f'attachment; filename="assessment-{by}-{month}.csv"'})


@people.get("/{person_id}/inbox")
def inbox(person_id: str, svc: ServicesDep) -> list[dict[str, Any]]:
    with svc.sessions() as session:
        rows = session.execute(
            select(NotificationRow, CaseRow)
            .join(CaseRow, NotificationRow.case_id == CaseRow.id)
            .where(NotificationRow.person_id == person_id, NotificationRow.channel == "inbox")
            .order_by(NotificationRow.id.desc())
            .limit(200)
        ).all()
        return [{"notification_id": n.id, "status": n.status, "case": case_summary(c)} for n, c in rows]


class PushKeys(BaseModel):
    p256dh: str = Field(min_length=16, max_length=256)
    auth: str = Field(min_length=8, max_length=64)


class PushSubscriptionBody(BaseModel):
    endpoint: str = Field(pattern=r"^https?://", max_length=2048)
    keys: PushKeys


@people.post("/{person_id}/push-subscriptions", status_code=201)
def subscribe_push(person_id: str, body: PushSubscriptionBody, svc: ServicesDep) -> dict[str, Any]:
    if svc.grid.person(person_id) is None:
        raise HTTPException(404, f"no person {person_id} in the grid file")
    with svc.sessions() as session:
        row = session.scalar(select(PushSubscriptionRow).where(PushSubscriptionRow.endpoint == body.endpoint))
        if row is None:
            row = PushSubscriptionRow(person_id=person_id, endpoint=body.endpoint,
                                      p256dh=body.keys.p256dh, auth=body.keys.auth)
            session.add(row)
        else:
            row.person_id, row.p256dh, row.auth = person_id, body.keys.p256dh, body.keys.auth
        session.commit()
        return {"id": row.id, "person_id": person_id}


@feed.get("/push/vapid-public-key")
def vapid_public_key(svc: ServicesDep) -> dict[str, str]:
    return {"application_server_key": svc.keys.application_server_key}


@feed.get("/quarantine")
def quarantine(svc: ServicesDep, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[dict[str, Any]]:
    with svc.sessions() as session:
        rows = session.scalars(select(QuarantineRow).order_by(QuarantineRow.id.desc()).limit(limit))
        return [{"id": r.id, "topic": r.topic, "reason": r.reason, "received_at": r.received_at.isoformat(),
                 "payload_preview": r.payload[:200].decode("utf-8", "replace")} for r in rows]


@evidence.put("/{name}", status_code=201)
async def put_evidence(name: str, request: Request, svc: ServicesDep) -> dict[str, str]:
    if not name.endswith(".jpg"):
        raise HTTPException(404, "evidence names end in .jpg")
    if request.headers.get("content-type", "") != "image/jpeg":
        raise HTTPException(415, "evidence must be sent as image/jpeg")
    declared = request.headers.get("content-length")
    if declared and int(declared) > svc.config.max_evidence_bytes:
        raise HTTPException(413, f"image over {svc.config.max_evidence_bytes} bytes")
    data = await request.body()
    try:
        svc.evidence.put(name.removesuffix(".jpg"), data)
    except EvidenceRejected as exc:
        raise HTTPException(422, str(exc)) from None
    return {"url": f"{svc.config.public_url()}/api/v1/evidence/{name}"}


@evidence.get("/{name}")
def get_evidence(name: str, svc: ServicesDep) -> Response:
    try:
        path = svc.evidence.path(name.removesuffix(".jpg"))
    except EvidenceRejected:
        raise HTTPException(404, "no such evidence") from None
    if not name.endswith(".jpg") or not path.exists():
        raise HTTPException(404, "no such evidence")
    return FileResponse(path, media_type="image/jpeg")


@feed.websocket("/feed")
async def live_feed(websocket: WebSocket) -> None:
    svc: Services = websocket.app.state.services
    await websocket.accept()
    queue = svc.feed.subscribe()
    try:
        while True:
            message = await queue.get()
            await websocket.send_json(message)
    except (WebSocketDisconnect, asyncio.CancelledError):
        pass
    finally:
        svc.feed.unsubscribe(queue)
