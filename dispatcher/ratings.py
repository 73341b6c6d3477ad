"""Residents rate: at verification a leader (or a dispatcher) invites the residents of the spot
to say whether they are satisfied. The invitation is a one-time, expiring link (shown as a QR
code on the leader's phone, or sent on); the resident opens it on their own phone with no
account, sees the camera's before picture and its picture of the spot free (both pixelated on
the edge box when the town blurs people), and answers 满意 / 基本满意 / 不满意 or 1 to 5, with a
comment if they like. One answer per link; a link lives ``ttl``; wrong, expired or used links
are counted per address like failed logins (HTTP 429 beyond the limit).

The link's secret travels in the URL's fragment (``/rate/#t=...``), never to the server in a
URL: the page sends it in the ``X-Rating-Token`` header (access logs never hold it).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import sessionmaker

from dispatcher.auth import LoginLimiter
from dispatcher.cases import CaseService
from dispatcher.db import CaseRow, RatingLinkRow, now
from dispatcher.hashing import hash_token
from dispatcher.lifecycle import CaseState, Role
from dispatcher.links import SignedLinks
from i18n import Msg

SCORES = {"satisfied": 5, "basically_satisfied": 3, "dissatisfied": 1}  # 满意 / 基本满意 / 不满意
RESIDENT = "resident"
LIMITER_KEY = "rating-link"  # failed look-ups counted per address under this name


class LinkRefused(Exception):
    """Unknown, expired or used: the resident's page says which, in people's words."""


@dataclass(frozen=True)
class Invitation:
    url: str
    expires_at: datetime


class RatingLinks:
    def __init__(self, sessions: sessionmaker, cases: CaseService, limiter: LoginLimiter, links: SignedLinks,
                 public_url: str, ttl: timedelta = timedelta(days=3)) -> None:
        self.sessions = sessions
        self.cases = cases
        self.limiter = limiter
        self.links = links
        self.public_url = public_url
        self.ttl = ttl

    def invite(self, case_id: int, person_id: str) -> Invitation:
        """A new link for a verified case; ``ValueError`` when the case is not verified."""
        token = secrets.token_urlsafe(24)
        with self.sessions() as session:
            case = session.get(CaseRow, case_id)
            if case is None or case.state != CaseState.verified.value:
                raise ValueError(Msg("residents are invited to rate a verified case"))
            at = now()
            session.add(RatingLinkRow(case_id=case_id, token_hash=hash_token(token), created_by=person_id,
                                      created_at=at, expires_at=at + self.ttl))
            session.commit()
        return Invitation(f"{self.public_url}/rate/#t={token}", at + self.ttl)

    def _link(self, session: Any, token: str, client: str) -> RatingLinkRow:
        """The link of ``token`` if it may still be used; LinkRefused (counted) otherwise;
        LoginThrottled when this address has failed too often."""
        self.limiter.check(LIMITER_KEY, client)
        row = session.scalar(select(RatingLinkRow).where(RatingLinkRow.token_hash == hash_token(token[:100])))
        problem = (Msg("this link is not known") if row is None
                   else Msg("this link has been used: thank you") if row.used_at is not None
                   else Msg("this link has expired") if row.expires_at <= now() else None)
        if problem is not None:
            self.limiter.failed(LIMITER_KEY, client)
            raise LinkRefused(problem)
        return row

    def view(self, token: str, client: str) -> dict[str, Any]:
        """What the resident sees: the kind, where, when, and the camera's two pictures."""
        with self.sessions() as session:
            row = self._link(session, token, client)
            case = session.get(CaseRow, row.case_id)
            return {"kind": case.kind, "event_code": case.event_code, "micro_grid": case.micro_grid,
                    "opened_at": case.opened_at.isoformat(), "expires_at": row.expires_at.isoformat(),
                    "before_url": self.links.sign(case.before_url or case.snapshot_url),
                    "after_url": self.links.sign(case.cleared_snapshot_url)}

    def rate(self, token: str, client: str, score: int, comment: str | None) -> None:
        """The resident's answer: the case is rated (as the resident's, with the comment) and
        the link used up; a second answer on the same link is refused."""
        with self.sessions() as session:
            row = self._link(session, token, client)
            taken = session.execute(update(RatingLinkRow).where(
                RatingLinkRow.id == row.id, RatingLinkRow.used_at.is_(None)).values(used_at=now())).rowcount
            if taken != 1:
                raise LinkRefused(Msg("this link has been used: thank you"))
            case_id = row.case_id
            session.commit()
        data = {"rating": score, "source": RESIDENT, "comment": (comment or "").strip()[:500] or None}
        self.cases.act(case_id, "rate", RESIDENT, data=data, role=Role.resident)
