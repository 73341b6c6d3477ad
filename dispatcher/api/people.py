"""A person's own things: the in-app inbox and the phone's Web Push subscriptions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field
from sqlalchemy import select

from dispatcher.api.cases import present
from dispatcher.api.deps import Caller, ServicesDep
from dispatcher.auth import SEES_ALL, Principal
from dispatcher.cases import case_summary
from dispatcher.db import CaseRow, NotificationRow, PushSubscriptionRow, now

router = APIRouter(prefix="/api/v1/people", tags=["people"])


def _self_or_staff(who: Principal, person_id: str) -> None:
    if who.person_id != person_id and who.role not in SEES_ALL:
        raise HTTPException(403, f"only {person_id} (or a dispatcher) may see this")


@router.get("/{person_id}/inbox")
def inbox(person_id: str, svc: ServicesDep, who: Caller) -> list[dict[str, Any]]:
    _self_or_staff(who, person_id)
    with svc.sessions() as session:
        rows = session.execute(
            select(NotificationRow, CaseRow)
            .join(CaseRow, NotificationRow.case_id == CaseRow.id)
            .where(NotificationRow.person_id == person_id, NotificationRow.channel == "inbox")
            .order_by(NotificationRow.id.desc())
            .limit(200)
        ).all()
        shown = [{"notification_id": n.id, "status": n.status, "case": present(svc, case_summary(c))}
                 for n, c in rows]
        if who.person_id == person_id:  # the worker page shows them: each case reached its person
            for note, case in rows:
                if note.status == "unread":
                    note.status, note.updated_at = "read", now()
                svc.cases.mark_delivered(session, case.id, person_id, "seen on the worker page")
            session.commit()
        return shown


class PushKeys(BaseModel):
    p256dh: str = Field(min_length=16, max_length=256)
    auth: str = Field(min_length=8, max_length=64)


class PushSubscriptionBody(BaseModel):
    endpoint: str = Field(pattern=r"^https?://", max_length=2048)
    keys: PushKeys


@router.post("/{person_id}/push-subscriptions", status_code=201)
def subscribe_push(person_id: str, body: PushSubscriptionBody, svc: ServicesDep, who: Caller) -> dict[str, Any]:
    if who.person_id != person_id:
        raise HTTPException(403, "a phone subscribes for the person logged in on it")
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
