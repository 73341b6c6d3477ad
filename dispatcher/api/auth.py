"""Logging in and out, machine tokens, passwords."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from dispatcher.api.deps import Caller, RowId, ServicesDep, client_address, for_people, require, throttled
from dispatcher.api.shapes import IssuedTokenView, Me, TokenView
from dispatcher.auth import AuthError, IssuedToken, LoginThrottled, MachineRole, Principal
from i18n import Msg

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
Admin = Annotated[Principal, Depends(require("admin"))]


class LoginBody(BaseModel):
    person_id: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class TokenBody(BaseModel):
    name: str = Field(min_length=1, max_length=128, description="What the token is for, e.g. edge-east-01")
    role: MachineRole
    # strict: JSON true is no number of days (pydantic would read it as 1)
    ttl_days: float | None = Field(default=None, gt=0, le=3650, strict=True,
                                   description="Never expires when left out")


class PasswordBody(BaseModel):
    password: str = Field(min_length=8, max_length=256)
    current_password: str | None = Field(default=None, max_length=256, description="Needed to change one's own")


def _issued(issued: IssuedToken) -> dict[str, Any]:
    who = issued.principal
    return {"token": issued.token, "token_id": issued.token_id, "role": who.role, "person_id": who.person_id,
            "expires_at": issued.expires_at.isoformat() if issued.expires_at else None}


@router.post("/login", response_model=IssuedTokenView)
def login(body: LoginBody, request: Request, svc: ServicesDep) -> dict[str, Any]:
    """A session token for a person of the grid file. Failed attempts are limited per person
    and per client address (HTTP 429 with Retry-After)."""
    try:
        return _issued(svc.auth.login(body.person_id, body.password, client_address(request)))
    except LoginThrottled as exc:
        raise throttled(exc) from None
    except AuthError as exc:
        raise HTTPException(401, for_people(exc)) from None


@router.post("/logout", status_code=204)
def logout(who: Caller, svc: ServicesDep) -> None:
    svc.auth.revoke(who.token_id)


@router.get("/me", response_model=Me)
def me(who: Caller) -> dict[str, Any]:
    return {"kind": who.kind, "name": who.name, "role": who.role, "person_id": who.person_id}


@router.post("/tokens", status_code=201, response_model=IssuedTokenView)
def create_token(body: TokenBody, _: Admin, svc: ServicesDep) -> dict[str, Any]:
    """A machine token (shown once): ``edge`` uploads evidence, ``monitor`` reads /metrics."""
    ttl = timedelta(days=body.ttl_days) if body.ttl_days else None
    return _issued(svc.auth.issue_machine(body.name, body.role, ttl))


@router.get("/tokens", response_model=list[TokenView])
def list_tokens(_: Admin, svc: ServicesDep, sessions: bool = False) -> list[dict[str, Any]]:
    return svc.auth.tokens(include_sessions=sessions)


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: RowId, _: Admin, svc: ServicesDep) -> None:
    if not svc.auth.revoke(token_id):
        raise HTTPException(404, f"no live token {token_id}")


@router.put("/passwords/{person_id}", status_code=204)
def set_password(person_id: str, body: PasswordBody, who: Caller, svc: ServicesDep) -> None:
    """An admin sets anyone's password; a person changes their own with the current one."""
    if who.role != "admin":
        if who.person_id != person_id:
            raise HTTPException(403, Msg("only an admin sets another person's password"))
        try:
            svc.auth.check_password(person_id, body.current_password or "", f"password-change:{person_id}")
        except AuthError as exc:
            raise HTTPException(403, Msg("current password: {why}", why=for_people(exc))) from None
    try:
        svc.auth.set_password(person_id, body.password)
    except AuthError as exc:
        raise HTTPException(422, for_people(exc)) from None
