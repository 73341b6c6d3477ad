"""Who is calling: logins, bearer tokens, roles, login throttling, live-feed tickets, and who
may read which evidence. (Password and token hashing: ``dispatcher.hashing``; signed evidence
and receipt links: ``dispatcher.links``.)

People log in with their grid id and password and get a session token; machines (edge boxes
uploading evidence, a Prometheus scraper, an admin script) get long-lived API tokens made by
an admin or the ``gridpatrol dispatcher token`` command. Only hashes are stored: scrypt for
passwords (low entropy, so slow on purpose), SHA-256 for tokens (256 random bits, so a fast
hash is enough). A person's role is read from the grid file on every request, so a change
there (a worker who left) takes effect at once.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, delete, false, or_, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from dispatcher.cases import uploader_key
from dispatcher.db import (
    ApiTokenRow,
    CaseEvidenceRow,
    CaseRow,
    CredentialRow,
    EvidenceUploadRow,
    FeedTicketRow,
    LoginFailureRow,
    now,
)
from dispatcher.grid import Grid
from dispatcher.hashing import dummy_hash, hash_password, hash_token, verify_password
from i18n import Msg

MachineRole = Literal["edge", "monitor", "admin"]
SEES_ALL = frozenset({"admin", "dispatcher"})
PEOPLE_ROLES = ("admin", "dispatcher", "leader", "department", "worker")  # the grid file's roles
TOKEN_PREFIX = "gp_"
MIN_PASSWORD = 8
TICKET_TTL = timedelta(seconds=30)  # a page asks for a ticket right before it opens the socket


class AuthError(Exception):
    """Bad credentials, or a request this caller may not make."""


class LoginThrottled(AuthError):
    def __init__(self, retry_after_s: float) -> None:
        super().__init__(Msg("too many failed logins; try again in {seconds} s", seconds=round(retry_after_s)))
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class Principal:
    token_id: int
    kind: Literal["session", "machine"]
    name: str
    role: str  # a person's grid role (worker, leader, department, dispatcher, admin) or a MachineRole
    person_id: str | None = None


@dataclass(frozen=True)
class IssuedToken:
    token: str  # shown once, never stored
    token_id: int
    expires_at: datetime | None
    principal: Principal


class LoginLimiter:
    """Throttles password guessing without locking the right person out: at most
    ``per_pair`` failed logins for one person from one client address, and ``per_address``
    for all people from one address (password spraying), in a sliding ``window_s``; then
    HTTP 429 until the oldest failure leaves the window. The right person elsewhere is never
    held up by someone guessing their password. Failures are rows in the database, so every
    dispatcher behind one URL counts the same ones; rows older than the window are deleted."""

    def __init__(self, sessions: sessionmaker, window_s: float, per_pair: int, per_address: int,
                 clock: Callable[[], datetime] = now) -> None:
        self.sessions = sessions
        self.window = timedelta(seconds=window_s)
        self.per_pair = per_pair
        self.per_address = per_address
        self.clock = clock

    @staticmethod
    def keys(person_id: str, client: str) -> tuple[str, str]:
        return f"pair:{person_id[:64]}|{client[:64]}", f"address:{client[:64]}"

    def check(self, person_id: str, client: str) -> None:
        """Raises LoginThrottled when this person from this address, or this address, is over."""
        at = self.clock()
        pair, address = self.keys(person_id, client)
        with self.sessions() as session:
            for key, limit in ((pair, self.per_pair), (address, self.per_address)):
                times = session.scalars(select(LoginFailureRow.at).where(
                    LoginFailureRow.key == key, LoginFailureRow.at > at - self.window)
                    .order_by(LoginFailureRow.at.desc()).limit(limit)).all()
                if len(times) >= limit:
                    raise LoginThrottled((times[-1] + self.window - at).total_seconds())

    def failed(self, person_id: str, client: str) -> None:
        at = self.clock()
        with self.sessions() as session:
            session.execute(delete(LoginFailureRow).where(LoginFailureRow.at <= at - self.window))
            session.add_all([LoginFailureRow(key=key, at=at) for key in self.keys(person_id, client)])
            session.commit()

    def succeeded(self, person_id: str, client: str) -> None:
        """The right password: this person's failures from this address are forgotten."""
        with self.sessions() as session:
            session.execute(delete(LoginFailureRow).where(LoginFailureRow.key == self.keys(person_id, client)[0]))
            session.commit()


class AuthService:
    def __init__(
        self, sessions: sessionmaker, grid: Grid, session_ttl: timedelta, limiter: LoginLimiter,
    ) -> None:
        self.sessions = sessions
        self.grid = grid
        self.session_ttl = session_ttl
        self.limiter = limiter

    # --- passwords and logins ----------------------------------------------------------

    def set_password(self, person_id: str, password: str) -> None:
        if self.grid.person(person_id) is None:
            raise AuthError(Msg("{person} is not a person in the grid file", person=repr(person_id)))
        if len(password) < MIN_PASSWORD:
            raise AuthError(Msg("a password needs at least {count} characters", count=MIN_PASSWORD))
        with self.sessions() as session:
            row = session.get(CredentialRow, person_id)
            if row is None:
                session.add(CredentialRow(person_id=person_id, password_hash=hash_password(password)))
            else:
                row.password_hash, row.updated_at = hash_password(password), now()
            session.commit()

    def login(self, person_id: str, password: str, client: str) -> IssuedToken:
        self.check_password(person_id, password, client)
        return self.issue_session(person_id)

    def check_password(self, person_id: str, password: str, client: str) -> None:
        """Raises AuthError (LoginThrottled after too many failures) unless it is right."""
        self.limiter.check(person_id, client)
        with self.sessions() as session:
            row = session.get(CredentialRow, person_id)
        ok = verify_password(password, row.password_hash if row else dummy_hash()) and row is not None
        if not ok or self.grid.person(person_id) is None:
            self.limiter.failed(person_id, client)
            raise AuthError(Msg("unknown person or wrong password"))
        self.limiter.succeeded(person_id, client)

    # --- tokens ------------------------------------------------------------------------

    def issue_session(self, person_id: str, ttl: timedelta | None = None) -> IssuedToken:
        person = self.grid.person(person_id)
        if person is None:
            raise AuthError(Msg("{person} is not a person in the grid file", person=repr(person_id)))
        return self._issue("session", f"login {person_id}", None, person_id, ttl or self.session_ttl)

    def issue_machine(self, name: str, role: MachineRole, ttl: timedelta | None = None) -> IssuedToken:
        return self._issue("machine", name, role, None, ttl)

    def _issue(self, kind: str, name: str, role: str | None, person_id: str | None,
               ttl: timedelta | None) -> IssuedToken:
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        expires = now() + ttl if ttl else None
        with self.sessions() as session:
            row = ApiTokenRow(token_hash=hash_token(token), kind=kind, name=name, role=role,
                              person_id=person_id, expires_at=expires)
            session.add(row)
            session.commit()
            principal = self._principal(row)
        assert principal is not None
        return IssuedToken(token, row.id, expires, principal)

    def authenticate(self, token: str) -> Principal | None:
        if not token.startswith(TOKEN_PREFIX):
            return None
        at = now()
        with self.sessions() as session:
            row = session.scalar(select(ApiTokenRow).where(ApiTokenRow.token_hash == hash_token(token)))
            if row is None or row.revoked_at is not None or (row.expires_at and row.expires_at <= at):
                return None
            if row.last_used_at is None or at - row.last_used_at > timedelta(minutes=1):
                session.execute(update(ApiTokenRow).where(ApiTokenRow.id == row.id).values(last_used_at=at))
                session.commit()
            return self._principal(row)

    def _principal(self, row: ApiTokenRow) -> Principal | None:
        if row.kind == "machine":
            return Principal(row.id, "machine", row.name, row.role or "monitor")
        person = self.grid.person(row.person_id or "")
        if person is None:  # removed from the grid file since
            return None
        return Principal(row.id, "session", row.name, person.role, person.id)

    # --- one-time tickets for the live feed ---------------------------------------------

    def issue_ticket(self, who: Principal) -> str:
        """A ticket that opens the live feed once within ``TICKET_TTL`` as ``who``."""
        ticket = secrets.token_urlsafe(24)
        at = now()
        with self.sessions() as session:
            session.execute(delete(FeedTicketRow).where(FeedTicketRow.expires_at < at - timedelta(hours=1)))
            session.add(FeedTicketRow(ticket_hash=hash_token(ticket), token_id=who.token_id,
                                      expires_at=at + TICKET_TTL))
            session.commit()
        return ticket

    def redeem_ticket(self, ticket: str) -> Principal | None:
        """Who a ticket was issued to, if it is unused, unexpired and its session still live;
        the ticket is spent either way (on any dispatcher: the database decides)."""
        at = now()
        with self.sessions() as session:
            row = session.scalar(select(FeedTicketRow).where(FeedTicketRow.ticket_hash == hash_token(ticket)))
            if row is None:
                return None
            spent = session.execute(update(FeedTicketRow).where(
                FeedTicketRow.ticket_hash == row.ticket_hash, FeedTicketRow.used_at.is_(None),
                FeedTicketRow.expires_at > at).values(used_at=at)).rowcount
            session.commit()
            token = session.get(ApiTokenRow, row.token_id) if spent == 1 else None
            if token is None or token.revoked_at is not None or (token.expires_at and token.expires_at <= at):
                return None
            return self._principal(token)

    def revoke(self, token_id: int) -> bool:
        with self.sessions() as session:
            done = session.execute(update(ApiTokenRow).where(
                ApiTokenRow.id == token_id, ApiTokenRow.revoked_at.is_(None)).values(revoked_at=now()))
            session.commit()
            return bool(done.rowcount)

    def tokens(self, include_sessions: bool = False) -> list[dict[str, Any]]:
        query = select(ApiTokenRow).where(ApiTokenRow.revoked_at.is_(None)).order_by(ApiTokenRow.id)
        if not include_sessions:
            query = query.where(ApiTokenRow.kind == "machine")
        with self.sessions() as session:
            return [{"id": r.id, "kind": r.kind, "name": r.name, "role": r.role, "person_id": r.person_id,
                     "created_at": r.created_at.isoformat(),
                     "expires_at": r.expires_at.isoformat() if r.expires_at else None,
                     "last_used_at": r.last_used_at.isoformat() if r.last_used_at else None}
                    for r in session.scalars(query)]

    # --- what a caller may see -----------------------------------------------------------

    def may_read_evidence(self, who: Principal, sha256: str) -> bool:
        """An image by token: staff read any; others an image they uploaded or one that a
        case they may read references."""
        if who.role in SEES_ALL:
            return True
        with self.sessions() as session:
            if session.get(EvidenceUploadRow, (sha256, evidence_uploader(who))) is not None:
                return True
            return session.scalar(
                select(CaseEvidenceRow.case_id).join(CaseRow, CaseRow.id == CaseEvidenceRow.case_id)
                .where(CaseEvidenceRow.sha256 == sha256, self.case_filter(who)).limit(1)) is not None

    def record_upload(self, who: Principal, sha256: str) -> None:
        with self.sessions() as session:
            if session.get(EvidenceUploadRow, (sha256, evidence_uploader(who))) is None:
                session.add(EvidenceUploadRow(sha256=sha256, uploader=evidence_uploader(who)))
                try:
                    session.commit()
                except IntegrityError:  # the same upload through another dispatcher meanwhile
                    session.rollback()

    def case_filter(self, who: Principal) -> ColumnElement[bool]:
        """The cases ``who`` may read: all for admins and dispatchers; for a worker the cases
        assigned to them; for a leader those of the micro-grids they lead or escalated to
        them; for a department those escalated to it (level 2), not every case of its kind
        that it would be escalated to; none for other machines."""
        if who.role in SEES_ALL:
            return true()
        pid = who.person_id
        if pid is None:
            return false()
        mine = or_(CaseRow.worker_id == pid, CaseRow.assignee_id == pid)
        if who.role == "leader":
            led = [g.id for g in self.grid.micro_grids if g.leader == pid]
            return or_(mine, CaseRow.leader_id == pid, CaseRow.micro_grid.in_(led))
        if who.role == "department":  # what was escalated to it, and the consultations it is called to
            return or_(mine, and_(CaseRow.department_id == pid, or_(CaseRow.escalation_level >= 2,
                                                                      CaseRow.state == "consult")))
        return mine


def evidence_uploader(who: Principal) -> str:
    return uploader_key(who.person_id, who.token_id)
