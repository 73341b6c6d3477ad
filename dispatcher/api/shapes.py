"""What every route answers, as pydantic models: the OpenAPI document says what comes back, the
schemathesis run checks each answer against it, and an answer that drifts from its model
fails in the tests (``extra="forbid"``) instead of reaching a page."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from dispatcher.auth import MachineRole


class Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- errors ---------------------------------------------------------------------------------


class FieldError(Shape):
    loc: list[str | int]
    msg: str
    type: str | None


class ErrorBody(Shape):
    """Every error answer: what went wrong in people's words, or each bad field (422)."""

    detail: str | list[FieldError]


# --- cases ----------------------------------------------------------------------------------


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
    rating: int | None
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


class Seen(Shape):
    delivered: bool


# --- people ---------------------------------------------------------------------------------


class InboxEntry(Shape):
    notification_id: int
    status: str
    case: CaseSummary


class InboxSeen(Shape):
    seen: int
    delivered: int


class Subscribed(Shape):
    id: int
    person_id: str


# --- auth -----------------------------------------------------------------------------------


class IssuedTokenView(Shape):
    token: str = Field(description="Shown once; only its hash is kept")
    token_id: int
    role: str
    person_id: str | None
    expires_at: str | None


class Me(Shape):
    kind: Literal["session", "machine"]
    name: str
    role: str
    person_id: str | None


class TokenView(Shape):
    id: int
    kind: str
    name: str
    role: MachineRole | None
    person_id: str | None
    created_at: str
    expires_at: str | None
    last_used_at: str | None


# --- the feed, evidence, health --------------------------------------------------------------


class VapidKey(Shape):
    application_server_key: str


class QuarantinedMessage(Shape):
    id: int
    topic: str
    reason: str
    received_at: str
    payload_preview: str


class StoredEvidence(Shape):
    url: str


class Health(Shape):
    status: Literal["ok"]
    mqtt_connected: bool
    received: int
    stored: int
    duplicates: int
    quarantined: int
    cases_opened: int
    last_error: str | None


# --- cameras and zones ----------------------------------------------------------------------


class CameraRow(Shape):
    edge_id: str
    camera_id: str
    state: str
    reason: str
    since: str
    received_at: str
    last_frame_at: str | None
    edge_state: str


class EdgeRow(Shape):
    edge_id: str
    state: str
    reason: str
    received_at: str


class CameraBoard(Shape):
    cameras: list[CameraRow]
    edges: list[EdgeRow]


class ZoneCamera(Shape):
    camera_id: str | None
    edge: str | None
    zones: int


class CameraZones(Shape):
    camera_id: str | None
    edge: str | None
    zones: list[dict[str, Any]] = Field(description="As in the edge config (contract/zones.py)")
    snapshot_url: str | None


class SavedZones(Shape):
    camera_id: str
    zones: list[dict[str, Any]]


# --- the grid and figures -------------------------------------------------------------------


class MicroGridView(Shape):
    id: str
    name: str | None
    worker: str | None
    worker_name: str | None
    stand_in: str | None
    leader: str | None
    leader_name: str | None
    open_cases: int
    has_area: bool


class CommunityView(Shape):
    id: str
    name: str | None
    micro_grids: list[MicroGridView]


class MapSettings(Shape):
    tiles: str | None
    attribution: str


class GridView(Shape):
    town: str | None
    version: int | None
    communities: list[CommunityView]
    departments: dict[str, str]
    shops: list[dict[str, Any]] = Field(description="Each shop with its owner and phone (a leader: their grids')")
    unlocated_open_cases: int
    map: MapSettings


class FeatureCollection(Shape):
    type: Literal["FeatureCollection"]
    features: list[dict[str, Any]]


class GridVersion(Shape):
    version: int


class GridVersionView(Shape):
    id: int
    source: str
    created_by: str
    note: str | None
    created_at: str
    sha256: str


class Stats(Shape):
    total: int
    open: int
    overdue: int
    undelivered: int
    by_state: dict[str, int]
    by_kind: dict[str, int]
    by_micro_grid: dict[str, int]
