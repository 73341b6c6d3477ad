"""Residents rate: a leader or a dispatcher invites residents to rate a verified case (a one-time
link and its QR code); the resident's page reads the case and sends the answer with no account,
the link's secret in the ``X-Rating-Token`` header (never in a URL the server logs)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import segno
from fastapi import APIRouter, Depends, Header, HTTPException, Request
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from dispatcher.api.deps import (
    Caller,
    RowId,
    ServicesDep,
    client_address,
    for_people,
    not_a_bool,
    person_of,
    reading,
    require,
    throttled,
)
from dispatcher.api.shapes import Invitation, ResidentView, Thanks
from dispatcher.auth import LoginThrottled
from dispatcher.channels import Message
from dispatcher.ratings import SCORES, LinkRefused, RatingLinks
from i18n import translator
from i18n.terms import term
from i18n.timefmt import short_time

router = APIRouter(prefix="/api/v1", tags=["ratings"])
Score = Annotated[int, BeforeValidator(not_a_bool)]  # true is no score
Token = Annotated[str, Header(alias="X-Rating-Token", min_length=16, max_length=100,
                              description="The secret of the resident's link (its #t= part)")]


class RatingBody(BaseModel):
    """满意 / 基本满意 / 不满意, or a score 1 to 5; a comment if the resident likes."""

    model_config = ConfigDict(extra="forbid")

    answer: Literal["satisfied", "basically_satisfied", "dissatisfied"] | None = None
    score: Score | None = Field(default=None, ge=1, le=5)
    comment: str | None = Field(default=None, max_length=500)


def _links(svc: ServicesDep) -> RatingLinks:
    assert svc.ratings is not None
    return svc.ratings


class InviteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    send_to: str | None = Field(default=None, pattern=r"^\+?[0-9][0-9 \-]{5,19}$",
                                description="A resident's phone: the link is also sent there by SMS")


@router.post("/cases/{case_id}/rating-links", response_model=Invitation, status_code=201,
             dependencies=[Depends(require("leader", "dispatcher", "admin"))])
def invite(case_id: RowId, svc: ServicesDep, who: Caller, body: InviteBody | None = None) -> dict[str, Any]:
    """A one-time link for residents to rate a verified case the caller may see, with its QR
    code (an SVG data URI the page shows as an image); with ``send_to``, texted to a resident."""
    case = reading(svc.cases.detail, case_id, svc.auth.case_filter(who))
    try:
        invitation = _links(svc).invite(case_id, person_of(who))
    except ValueError as exc:
        raise HTTPException(409, for_people(exc)) from None
    qr = segno.make(invitation.url, error="m").svg_data_uri(scale=6, border=2)
    out: dict[str, Any] = {"url": invitation.url, "expires_at": invitation.expires_at.isoformat(), "qr_svg": qr,
                           "sent": None}
    if body is not None and body.send_to:
        tr = translator(svc.config.locale)
        until = short_time(invitation.expires_at, svc.config.timezone, tr.locale)
        text = tr._("Your town asks how the {kind} near you was handled: please rate it (once, until {time}).",
                    kind=term(tr, "kind", case["kind"]), time=until)
        result = svc.notifier.text(body.send_to, Message(case_id, tr._("Rate how it was handled"), text,
                                                         invitation.url, "", fields={"url": invitation.url}))
        out["sent"] = result.ok
    return out


def _refused(exc: Exception) -> HTTPException:
    return throttled(exc) if isinstance(exc, LoginThrottled) else HTTPException(410, for_people(exc))


@router.get("/rating", response_model=ResidentView)
def resident_view(request: Request, svc: ServicesDep, token: Token) -> dict[str, Any]:
    """What the resident's page shows: the kind, when, and the camera's before picture and its
    picture of the spot free (signed links)."""
    try:
        return _links(svc).view(token, client_address(request))
    except (LinkRefused, LoginThrottled) as exc:
        raise _refused(exc) from None


@router.post("/rating", response_model=Thanks)
def resident_answer(body: RatingBody, request: Request, svc: ServicesDep, token: Token) -> dict[str, Any]:
    """The resident's answer; the link is used up by it."""
    score = SCORES[body.answer] if body.answer else body.score
    if score is None:
        raise HTTPException(422, "answer or score is needed")
    try:
        _links(svc).rate(token, client_address(request), score, body.comment)
    except (LinkRefused, LoginThrottled) as exc:
        raise _refused(exc) from None
    return {"rated": score}
