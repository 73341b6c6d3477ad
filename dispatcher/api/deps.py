"""What every route depends on: the process's services and who is calling."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BeforeValidator

from dispatcher.auth import LoginThrottled, Principal
from dispatcher.services import Services
from i18n import Msg, Words
from i18n.terms import word

bearer = HTTPBearer(auto_error=False, description="A login session token or a machine API token (gp_...)")


def services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(services)]

def _iso_8601(value: object) -> object:
    if isinstance(value, str) and not ISO_DATE.match(value):
        raise ValueError("an ISO 8601 time, e.g. 2026-12-04T09:30:00+08:00")
    return value


ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
# A time in a query: ISO 8601 only (pydantic would also read "0.5" as seconds since 1970).
IsoTime = Annotated[datetime, BeforeValidator(_iso_8601)]

# A row id in a path: what the databases' 64-bit keys hold (a larger number is a 422, not an
# overflow inside the driver).
RowId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def caller(
    svc: ServicesDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    if credentials is None:
        raise HTTPException(401, Msg("log in first: send Authorization: Bearer <token>"),
                            headers={"WWW-Authenticate": "Bearer"})
    principal = svc.auth.authenticate(credentials.credentials)
    if principal is None:
        raise HTTPException(401, Msg("the token is unknown, expired or revoked"),
                            headers={"WWW-Authenticate": "Bearer"})
    return principal


Caller = Annotated[Principal, Depends(caller)]


def require(*roles: str) -> Callable[[Principal], Principal]:
    """A dependency that lets only ``roles`` through (403 for the others)."""

    def check(who: Caller) -> Principal:
        if who.role not in roles:
            raise HTTPException(403, Msg("a {role} may not do this (needs {roles})", role=word("role", who.role),
                                        roles=Words(word("role", r) for r in roles)))
        return who

    return check


def person_of(who: Principal) -> str:
    if who.person_id is None:
        raise HTTPException(403, Msg("this is done by a person, not a machine token"))
    return who.person_id


def bearer_token(headers: Mapping[str, str]) -> str:
    """The token of a request that cannot go through ``caller``: its ``Authorization: Bearer``
    header. Never a query parameter: URLs end up in access logs and browser histories."""
    header = headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return ""


def for_people(exc: BaseException) -> str:
    """What an exception says to people: its message as raised (a :class:`i18n.Msg` keeps its
    msgid, so the answer is translated for the reader)."""
    first = exc.args[0] if exc.args else None
    return first if isinstance(first, str) else str(exc)


def reading(call: Callable[..., Any], *args: Any) -> Any:
    """A read of a service about one case, its refusals as HTTP answers (403, 404)."""
    try:
        return call(*args)
    except PermissionError as exc:
        raise HTTPException(403, for_people(exc)) from None
    except LookupError as exc:
        raise HTTPException(404, for_people(exc)) from None


def not_a_bool(value: Any) -> Any:
    """For a number in a body: pydantic would take true for 1."""
    if isinstance(value, bool):
        raise ValueError("a number, not true or false")
    return value


def client_address(request: Request) -> str:
    """The caller's address, as failed logins and wrong rating links are counted by (the real
    client's behind the town's trusted proxies)."""
    return request.client.host if request.client else "unknown"


def throttled(exc: LoginThrottled) -> HTTPException:
    """429 with Retry-After: an address (or a person from it) failed too often."""
    return HTTPException(429, for_people(exc), headers={"Retry-After": str(int(exc.retry_after_s) + 1)})
