"""The live feed for the console (WebSocket), the Web Push key and the quarantine."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, WebSocket, WebSocketDisconnect
from sqlalchemy import select

from dispatcher.api.deps import Caller, ServicesDep, bearer_token, require
from dispatcher.auth import Principal
from dispatcher.db import QuarantineRow
from dispatcher.services import Services

router = APIRouter(prefix="/api/v1", tags=["feed"])
FEED_ROLES = ("admin", "dispatcher")
Staff = Annotated[Principal, Depends(require("admin", "dispatcher"))]


@router.get("/push/vapid-public-key")
def vapid_public_key(svc: ServicesDep, _: Caller) -> dict[str, str]:
    return {"application_server_key": svc.keys.application_server_key}


@router.get("/quarantine")
def quarantine(svc: ServicesDep, _: Staff, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[dict[str, Any]]:
    with svc.sessions() as session:
        rows = session.scalars(select(QuarantineRow).order_by(QuarantineRow.id.desc()).limit(limit))
        return [{"id": r.id, "topic": r.topic, "reason": r.reason, "received_at": r.received_at.isoformat(),
                 "payload_preview": r.payload[:200].decode("utf-8", "replace")} for r in rows]


@router.websocket("/feed")
async def live_feed(websocket: WebSocket) -> None:
    """Events and case changes as they happen, for admins and dispatchers; the
    token comes as ``?token=`` (browsers cannot set headers on a WebSocket). Closes with
    1008 (policy violation) when the caller may not listen."""
    svc: Services = websocket.app.state.services
    token = bearer_token(websocket.headers) or websocket.query_params.get("token", "")
    who = svc.auth.authenticate(token) if token else None
    if who is None or who.role not in FEED_ROLES:
        await websocket.close(code=1008, reason="log in as a dispatcher or admin")
        return
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
