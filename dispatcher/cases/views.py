"""What is shown of a case: its summary, its audit trail's steps and its notifications as
pydantic models (the API's response models, dispatcher/api/shapes.py), the dicts that fill
them read from the rows by the models' own field names, and what the city platform is told."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from dispatcher.db import CaseRow, CaseTransitionRow, NotificationRow
from i18n import Translator, translator
from i18n.terms import term
from i18n.timefmt import short_time


class Shape(BaseModel):
    """A strict answer: a field the model does not name fails the tests, never reaches a page."""

    model_config = ConfigDict(extra="forbid")


class ImageLink(Shape):
    """An image an object carries: a signed link (None where the image is not on an evidence
    store, e.g. kept on the edge box) and how to check it."""

    url: str | None
    content_type: str = "image/jpeg"
    sha256: str
    width: int
    height: int


class CaseObject(Shape):
    class_name: str
    confidence: float
    bbox: list[float] = Field(description="x1, y1, x2, y2 in pixels of the camera frame")
    track_id: int
    crop: ImageLink | None = None


class CaseSummary(Shape):
    """A case as lists show it. Times are ISO 8601 in UTC; image URLs are signed links."""

    id: int
    violation_id: str
    kind: str
    event_code: str | None
    state: str
    repeat_of: int | None
    repeat_count: int
    edge_id: str
    camera_id: str
    zone_id: str
    micro_grid: str
    shop_id: str | None
    lon: float | None
    lat: float | None
    worker_id: str | None
    leader_id: str | None
    department_id: str | None
    assignee_id: str | None
    escalation_level: int
    routing_note: str | None
    handling_note: str | None
    after_photo_sha256: str | None
    after_photo_url: str | None
    verified_by: str | None
    source: str = Field(description="camera, patrol (a worker's report) or hotline (12345)")
    report_note: str | None = Field(description="The reporter's words (patrol, hotline)")
    rating: int | None
    rating_source: str | None = Field(description="resident (their link) or phone (typed in by a dispatcher)")
    rating_comment: str | None
    void_reason: str | None
    dwell_s: float
    objects: list[CaseObject]
    snapshot_url: str | None
    snapshot_sha256: str | None
    before_url: str | None
    before_sha256: str | None
    cleared_snapshot_url: str | None
    cleared_snapshot_sha256: str | None
    started_at: str | None
    opened_at: str | None
    accepted_at: str | None
    handled_at: str | None
    verified_at: str | None
    closed_at: str | None
    handle_due_at: str | None
    cleared_at: str | None
    delivered_at: str | None


class TimelineStep(Shape):
    action: str
    from_: str | None = Field(alias="from")
    to: str
    actor_id: str
    actor_role: str
    reason: str | None
    data: dict[str, Any]
    at: str

    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)


class NotificationView(Shape):
    id: int
    person_id: str
    channel: str
    address: str | None
    position: int
    status: str
    attempts: int
    detail: str | None
    updated_at: str


class CaseDetail(CaseSummary):
    """A case with its audit trail and the notifications that told people about it."""

    timeline: list[TimelineStep]
    notifications: list[NotificationView]


CITY_FIELDS = ("violation_id", "kind", "event_code", "state", "camera_id", "zone_id", "micro_grid", "worker_id",
               "started_at", "opened_at", "closed_at", "void_reason", "repeat_count", "snapshot_url")


def city_payload(topic: str, values: dict[str, Any], tr: Translator | None = None,
                 timezone: str = "Asia/Shanghai") -> dict[str, Any]:
    """What the city platform is told about a case (the case id is added when it is sent): its
    fields, and a one-line summary for people in the town's language and local time."""
    tr = tr or translator()
    case = {k: values.get(k) for k in CITY_FIELDS}
    kind = term(tr, "kind", str(values.get("kind")))
    code = values.get("event_code")
    opened = values.get("opened_at")
    summary = tr._("{kind} ({code})", kind=kind, code=code) if code else kind
    summary += " · " + " · ".join(str(p) for p in (
        values.get("micro_grid"), f"{values.get('camera_id')}/{values.get('zone_id')}",
        term(tr, "state", str(values.get("state"))),
        short_time(opened, timezone, tr.locale) if isinstance(opened, datetime) else None) if p)
    return {"topic": topic, "summary": summary,
            "case": {k: v.isoformat() if isinstance(v, datetime) else v for k, v in case.items()}}


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# Fields the API adds to a summary (signed links); the case row has no column of that name.
API_ADDED = frozenset({"after_photo_url"})
SUMMARY_FIELDS = tuple(name for name in CaseSummary.model_fields if name not in API_ADDED)


def _row_values(row: Any, names: tuple[str, ...]) -> dict[str, Any]:
    """``names`` read off a row, times as ISO 8601 text."""
    values = {name: getattr(row, name) for name in names}
    return {k: iso(v) if isinstance(v, datetime) else v for k, v in values.items()}


def case_summary(case: CaseRow) -> dict[str, Any]:
    """The values of :class:`CaseSummary` but the API's signed links."""
    return _row_values(case, SUMMARY_FIELDS)


def transition_summary(row: CaseTransitionRow) -> dict[str, Any]:
    """A :class:`TimelineStep` (``from`` is the row's ``from_state``, ``to`` its ``to_state``)."""
    return {"action": row.action, "from": row.from_state, "to": row.to_state, "actor_id": row.actor_id,
            "actor_role": row.actor_role, "reason": row.reason, "data": row.data, "at": row.at.isoformat()}


def notification_view(row: NotificationRow) -> dict[str, Any]:
    """A :class:`NotificationView`."""
    return _row_values(row, tuple(NotificationView.model_fields))
