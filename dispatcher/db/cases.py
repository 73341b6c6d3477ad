"""The tables of the case loop: events, cases and their audit trail, timers, notifications,
the city's outbound messages, quarantine, evidence references, consultations, rating links."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dispatcher.db.base import Base, UtcDateTime, now


class EventRow(Base):
    __tablename__ = "events"

    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    violation_id: Mapped[str] = mapped_column(String(36), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    edge_id: Mapped[str] = mapped_column(String(64))
    camera_id: Mapped[str] = mapped_column(String(64), index=True)
    zone_id: Mapped[str] = mapped_column(String(64))
    micro_grid: Mapped[str] = mapped_column(String(64), index=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    observed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)

    case: Mapped[CaseRow | None] = relationship()


class CaseRow(Base):
    __tablename__ = "cases"
    # The spot check of every ingest batch looks up a camera zone's open and recent cases.
    __table_args__ = (Index("ix_cases_camera_zone", "camera_id", "zone_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    violation_id: Mapped[str] = mapped_column(String(36), unique=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    event_code: Mapped[str | None] = mapped_column(String(8), index=True)  # street-order code, e.g. 0506
    state: Mapped[str] = mapped_column(String(16), index=True)  # a lifecycle.CaseState
    repeat_of: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))  # the earlier case at this spot
    # How many earlier offences at this spot (within the repeat window) lead to this case.
    repeat_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Where the case came from: "camera", a worker's "patrol" report, the city "hotline" (12345);
    # for people's reports edge_id is the source, camera_id the reporter, zone_id "-".
    source: Mapped[str] = mapped_column(String(16), default="camera", server_default="camera")
    report_note: Mapped[str | None] = mapped_column(Text)  # the reporter's words
    edge_id: Mapped[str] = mapped_column(String(64))
    camera_id: Mapped[str] = mapped_column(String(64))
    zone_id: Mapped[str] = mapped_column(String(64))
    micro_grid: Mapped[str] = mapped_column(String(64), index=True)
    shop_id: Mapped[str | None] = mapped_column(String(64), index=True)  # a shop front's shop
    lon: Mapped[float | None] = mapped_column(Float)  # the zone's place on the map, if the edge knows it
    lat: Mapped[float | None] = mapped_column(Float)
    # The spot: the opening event's first box (x1, y1, x2, y2), as plain numbers so that each
    # ingest batch's spot check reads them without parsing the objects' JSON.
    spot_x1: Mapped[float | None] = mapped_column(Float)
    spot_y1: Mapped[float | None] = mapped_column(Float)
    spot_x2: Mapped[float | None] = mapped_column(Float)
    spot_y2: Mapped[float | None] = mapped_column(Float)
    worker_id: Mapped[str | None] = mapped_column(String(64), index=True)
    leader_id: Mapped[str | None] = mapped_column(String(64))
    department_id: Mapped[str | None] = mapped_column(String(64))
    assignee_id: Mapped[str | None] = mapped_column(String(64), index=True)  # who must act now
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)  # 0 worker, 1 leader, 2 department
    routing_note: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    accepted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    handled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    handling_note: Mapped[str | None] = mapped_column(Text)
    after_photo_sha256: Mapped[str | None] = mapped_column(String(64))
    verified_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    verified_by: Mapped[str | None] = mapped_column(String(64))  # "camera" or a leader's id
    rating: Mapped[int | None] = mapped_column(Integer)
    rating_source: Mapped[str | None] = mapped_column(String(16))  # "resident" (their link) or "phone" (typed in)
    rating_comment: Mapped[str | None] = mapped_column(Text)
    # the shop put it right within its grace period (shop owners told first)
    self_corrected: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    void_reason: Mapped[str | None] = mapped_column(Text)
    handle_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    cleared_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # the camera saw the spot free
    # When a channel confirmed delivery to the current assignee, or they opened the case.
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    dwell_s: Mapped[float] = mapped_column(Float, default=0.0)
    objects: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    snapshot_url: Mapped[str | None] = mapped_column(Text)
    snapshot_sha256: Mapped[str | None] = mapped_column(String(64))
    # The camera's own before and after: the spot before the object came to rest (from the
    # opened event) and the frame that saw it free again (from the cleared event).
    before_url: Mapped[str | None] = mapped_column(Text)
    before_sha256: Mapped[str | None] = mapped_column(String(64))
    cleared_snapshot_url: Mapped[str | None] = mapped_column(Text)
    cleared_snapshot_sha256: Mapped[str | None] = mapped_column(String(64))

    notifications: Mapped[list[NotificationRow]] = relationship(back_populates="case", order_by="NotificationRow.id")
    transitions: Mapped[list[CaseTransitionRow]] = relationship(order_by="CaseTransitionRow.id")
    timers: Mapped[list[TimerRow]] = relationship(order_by="TimerRow.id")


class CaseTransitionRow(Base):
    """The audit trail: every action on a case, who took it, when and why."""

    __tablename__ = "case_transitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str] = mapped_column(String(64))
    actor_role: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class TimerRow(Base):
    """A deadline of a case, stored so it survives restarts; claimed by exactly one
    dispatcher instance (a conditional update on ``fired_at``) when it falls due."""

    __tablename__ = "timers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))  # accept, handle
    due_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    fired_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    fired_by: Mapped[str | None] = mapped_column(String(64))
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class NotificationRow(Base):
    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    person_id: Mapped[str] = mapped_column(String(64), index=True)
    channel: Mapped[str] = mapped_column(String(16))  # inbox, or a grid.ChannelType
    # Place in the person's chain of channels (0 first); rows of one place are tried together.
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    address: Mapped[str | None] = mapped_column(String(128))  # e.g. wecom_app:ZhangWei, sms:+86...
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("push_subscriptions.id", ondelete="SET NULL"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # inbox: unread, read. Channels: pending (to try now), standby (if the earlier fail), sending,
    # sent (taken, not a confirmation), delivered (confirmed), failed, skipped (an earlier confirmed).
    status: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)

    case: Mapped[CaseRow] = relationship(back_populates="notifications")


class OutboundRow(Base):
    """A message for an outside system (the city platform's webhook), written in the same
    transaction as the case change it reports and sent by ``dispatcher.webhook``."""

    __tablename__ = "outbound"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    target: Mapped[str] = mapped_column(String(32), index=True)  # city
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    topic: Mapped[str] = mapped_column(String(32))  # case.opened, case.closed, case.voided
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), index=True, default="pending")  # pending, delivered, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now, index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    response_status: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    case: Mapped[CaseRow] = relationship()


class QuarantineRow(Base):
    __tablename__ = "quarantine"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(Text)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    reason: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class CaseEvidenceRow(Base):
    """An image a case references (snapshot, before, cleared, crop, after photo): who may
    read the case may read the image."""

    __tablename__ = "case_evidence"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(16))  # snapshot, before, cleared, crop, after


class ConsultNoteRow(Base):
    """A note (and a photo) in a case's consultation (会商) thread."""

    __tablename__ = "consult_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    author_id: Mapped[str] = mapped_column(String(64))
    author_role: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    photo_sha256: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class RatingLinkRow(Base):
    """A one-time, expiring link that lets a resident rate a verified case with no account
    (dispatcher/ratings.py); only its hash is kept."""

    __tablename__ = "rating_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
