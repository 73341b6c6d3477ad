"""The tables of people and machines: push subscriptions, evidence uploads, credentials and
API tokens, login failures, feed tickets, grid versions, the phone page's presence, and what
dispatchers share (secrets, channel rate buckets)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Float,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from dispatcher.db.base import Base, UtcDateTime, now


class PushSubscriptionRow(Base):
    __tablename__ = "push_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(String(64), index=True)
    endpoint: Mapped[str] = mapped_column(Text, unique=True)
    p256dh: Mapped[str] = mapped_column(String(256))
    auth: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class EvidenceUploadRow(Base):
    """Who uploaded an evidence image (an edge box's token, a person's after photo): the
    uploader may read it back, and a worker may attach as an after photo only their own."""

    __tablename__ = "evidence_uploads"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    uploader: Mapped[str] = mapped_column(String(80), primary_key=True)  # person:<id> or token:<id>
    uploaded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class CredentialRow(Base):
    """A person's password, as an scrypt hash (never the password itself)."""

    __tablename__ = "credentials"

    person_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class ApiTokenRow(Base):
    """A bearer token: a login session of a person, or a machine's API token (an edge box,
    a monitoring scraper). Only the SHA-256 of the token is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # session, machine
    name: Mapped[str] = mapped_column(String(128))
    person_id: Mapped[str | None] = mapped_column(String(64), index=True)  # sessions: whose
    role: Mapped[str | None] = mapped_column(String(16))  # machines: edge, monitor, admin
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class LoginFailureRow(Base):
    """A failed login, counted per person and address and per address (dispatcher.auth.LoginLimiter)
    by every dispatcher; deleted once it leaves the window."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(160))
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class FeedTicketRow(Base):
    """A one-time ticket that opens the live feed's WebSocket (browsers cannot send a header
    there, and a token in the URL would land in access logs): short-lived, used once, valid
    on whichever dispatcher the socket reaches."""

    __tablename__ = "feed_tickets"

    ticket_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_id: Mapped[int] = mapped_column(Integer)  # the session it was issued to
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class GridVersionRow(Base):
    """Each version of the grid (people, micro-grids, areas, rosters, leave): imported from the
    grid file when it changed, or saved through the admin API. The newest is in force."""

    __tablename__ = "grid_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(8))  # file, api
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class PresenceRow(Base):
    """A person's phone page open in a five-minute slot (seconds since 1970 // 300): what the
    monthly assessment's online rate counts (dispatcher/presence.py)."""

    __tablename__ = "presence"

    person_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    slot: Mapped[int] = mapped_column(Integer, primary_key=True)


class SharedSecretRow(Base):
    """A secret every dispatcher behind one URL must hold alike (the VAPID key pair, the link
    secret): made by whichever starts first, read by the others (dispatcher/sharedstate.py)."""

    __tablename__ = "shared_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class RateBucketRow(Base):
    """A token bucket of a channel's sending rate, shared by every dispatcher: tokens left at
    ``updated_at`` (epoch seconds), refilled evenly (dispatcher/sharedstate.py)."""

    __tablename__ = "rate_buckets"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
