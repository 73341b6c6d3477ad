"""The live feed for the console (WebSocket), the Web Push key and the quarantine."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from dispatcher.api.deps import Caller, ServicesDep, bearer_token, require
from dispatcher.api.shapes import QuarantinedMessage, VapidKey
from dispatcher.auth import TICKET_TTL, Principal
from dispatcher.services import Services

router = APIRouter(prefix="/api/v1", tags=["feed"])
FEED_ROLES = ("admin", "dispatcher")
Staff = Annotated[Principal, Depends(require("admin", "dispatcher"))]


@router.get("/push/vapid-public-key", response_model=VapidKey)
def vapid_public_key(svc: ServicesDep, _: Caller) -> dict[str, str]:
    return {"application_server_key": svc.keys.application_server_key}


@router.get("/quarantine", response_model=list[QuarantinedMessage])
def quarantine(svc: ServicesDep, _: Staff, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[dict[str, Any]]:
    return svc.ingest.quarantined(limit)


FEED_PROTOCOL = "gridpatrol.v1"
TICKET_PREFIX = "ticket."


class Ticket(BaseModel):
    ticket: str
    expires_in_s: int
    protocol: str = Field(description="Open the socket with the subprotocols [protocol, 'ticket.' + ticket]")


@router.post("/feed/tickets", status_code=201, response_model=Ticket)
def feed_ticket(svc: ServicesDep, who: Staff) -> Ticket:
    """A one-time ticket for the live feed's WebSocket, valid for 30 s. Browsers cannot set
    headers on a WebSocket, and a token in its URL would be written to access logs; the
    ticket travels in the ``Sec-WebSocket-Protocol`` header instead."""
    return Ticket(ticket=svc.auth.issue_ticket(who), expires_in_s=int(TICKET_TTL.total_seconds()),
                  protocol=FEED_PROTOCOL)


def _feed_caller(svc: Services, websocket: WebSocket) -> tuple[Principal | None, str | None]:
    """Who opens the socket, and the subprotocol to answer with: a ticket offered as a
    subprotocol (browsers), or an ``Authorization: Bearer`` header (other clients)."""
    offered = list(websocket.scope.get("subprotocols") or [])
    tickets = [p.removeprefix(TICKET_PREFIX) for p in offered if p.startswith(TICKET_PREFIX)]
    if tickets:
        return svc.auth.redeem_ticket(tickets[0][:64]), FEED_PROTOCOL if FEED_PROTOCOL in offered else None
    token = bearer_token(websocket.headers)
    return (svc.auth.authenticate(token) if token else None), None


@router.websocket("/feed")
async def live_feed(websocket: WebSocket) -> None:
    """Events and case changes as they happen, for admins and dispatchers. Closes with 1008
    (policy violation) when the caller may not listen."""
    svc: Services = websocket.app.state.services
    who, protocol = await run_in_threadpool(_feed_caller, svc, websocket)
    if who is None or who.role not in FEED_ROLES:
        await websocket.close(code=1008, reason="log in as a dispatcher or admin")
        return
    await websocket.accept(subprotocol=protocol)
    queue = svc.feed.subscribe()

    async def pump() -> None:
        while True:
            await websocket.send_json(await queue.get())

    sender = asyncio.create_task(pump())
    try:  # listen too: a client that left (or a server shutting down) ends the socket at once
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass
    except (WebSocketDisconnect, asyncio.CancelledError):
        pass
    finally:
        sender.cancel()
        svc.feed.unsubscribe(queue)
