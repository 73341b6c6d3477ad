"""A person's own things: the in-app inbox and the phone's Web Push subscriptions."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import APIRouter, HTTPException, Response
from pydantic import BaseModel, Field, model_validator

from dispatcher.api.cases import present
from dispatcher.api.deps import Caller, ServicesDep, for_people
from dispatcher.api.shapes import InboxEntry, InboxSeen, Subscribed
from dispatcher.auth import SEES_ALL, Principal
from dispatcher.notify import SubscriptionTaken
from dispatcher.outbound import UrlRefused
from dispatcher.presence import seen
from i18n import Msg

router = APIRouter(prefix="/api/v1/people", tags=["people"])


def _self_or_staff(who: Principal, person_id: str) -> None:
    if who.person_id != person_id and who.role not in SEES_ALL:
        raise HTTPException(403, Msg("only {person} (or a dispatcher) may see this", person=person_id))


@router.get("/{person_id}/inbox", response_model=list[InboxEntry])
def inbox(person_id: str, svc: ServicesDep, who: Caller) -> list[dict[str, Any]]:
    """The person's inbox, newest first (200 at most). Reading it changes nothing: the page
    says what it showed with ``POST .../inbox/seen``."""
    _self_or_staff(who, person_id)
    return [{**entry, "case": present(svc, entry["case"])} for entry in svc.cases.inbox(person_id)]


class SeenBody(BaseModel):
    notification_ids: list[Annotated[int, Field(ge=1, le=2**63 - 1)]] = Field(max_length=200)


@router.post("/{person_id}/inbox/seen", response_model=InboxSeen)
def inbox_seen(person_id: str, body: SeenBody, svc: ServicesDep, who: Caller) -> dict[str, int]:
    """The person's own page showed these inbox entries: each is read, and each case whose
    assignee they are counts as delivered to them (no delivery escalation)."""
    if who.person_id != person_id:
        raise HTTPException(403, Msg("only the person themself has seen their inbox"))
    seen, delivered = svc.cases.inbox_seen(person_id, body.notification_ids)
    return {"seen": seen, "delivered": delivered}


@router.post("/{person_id}/presence", status_code=204)
def presence(person_id: str, svc: ServicesDep, who: Caller) -> Response:
    """The person's phone page is open (it says so every few minutes while shown): the online
    rate of the monthly assessment counts it, by five-minute slot of working time."""
    if who.person_id != person_id:
        raise HTTPException(403, Msg("only the person themself is present"))
    seen(svc.sessions, person_id)
    return Response(status_code=204)


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text.replace("+", "-").replace("/", "_").rstrip("=") + "=" * (-len(text) % 4))


class PushKeys(BaseModel):
    """The browser's keys for the subscription (RFC 8291), base64url as PushSubscription gives them."""

    p256dh: str = Field(min_length=16, max_length=256, pattern=r"^[A-Za-z0-9_\-+/=]+$")
    auth: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_\-+/=]+$")

    @model_validator(mode="after")
    def _real_keys(self) -> PushKeys:
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), _b64url(self.p256dh))
        except ValueError:
            raise ValueError("p256dh is not a P-256 public key") from None
        if len(_b64url(self.auth)) != 16:
            raise ValueError("auth must be 16 bytes")
        return self


class PushSubscriptionBody(BaseModel):
    endpoint: str = Field(pattern=r"^https?://", max_length=2048,
                          description="On a known push service (the dispatcher config's outbound.push_hosts)")
    keys: PushKeys


@router.post("/{person_id}/push-subscriptions", status_code=201, response_model=Subscribed)
def subscribe_push(person_id: str, body: PushSubscriptionBody, svc: ServicesDep, who: Caller) -> dict[str, Any]:
    """The phone's Web Push subscription. A subscription already kept for someone else moves
    to this person only when the same browser sends it (the same keys: a phone that changed
    hands); knowing another phone's endpoint is not enough."""
    if who.person_id != person_id:
        raise HTTPException(403, Msg("a phone subscribes for the person logged in on it"))
    try:
        kept = svc.notifier.subscribe(person_id, body.endpoint, body.keys.p256dh, body.keys.auth)
    except UrlRefused as exc:
        raise HTTPException(422, f"endpoint: {exc}") from None
    except SubscriptionTaken as exc:
        raise HTTPException(409, for_people(exc)) from None
    return {"id": kept, "person_id": person_id}
