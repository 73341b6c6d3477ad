"""What every route answers, as pydantic models: the OpenAPI document says what comes back, the
schemathesis run checks each answer against it, and an answer that drifts from its model
fails in the tests (``extra="forbid"``) instead of reaching a page."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from dispatcher.auth import MachineRole
from dispatcher.cases.views import (  # the case's shapes live beside the views that fill them
    CaseDetail,
    CaseObject,
    CaseSummary,
    ImageLink,
    NotificationView,
    Shape,
    TimelineStep,
)

__all__ = ["CaseDetail", "CaseObject", "CaseSummary", "ImageLink", "NotificationView", "Shape", "TimelineStep"]

# --- errors ---------------------------------------------------------------------------------


class FieldError(Shape):
    loc: list[str | int]
    msg: str
    type: str | None


class ErrorBody(Shape):
    """Every error answer: what went wrong in people's words, or each bad field (422)."""

    detail: str | list[FieldError]


# --- cases ----------------------------------------------------------------------------------


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
    status: Literal["ok", "unavailable"]
    problems: list[str] = Field(description="What keeps the dispatcher from its work (503), by part")
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
    zones_running: int | None = Field(default=None, description="The pushed zones version the camera's box runs")
    zones_saved: int | None = Field(default=None, description="The newest zones version pushed to that box")
    zones_refused: str | None = Field(default=None, description="The last version the box refused, and why")


class EdgeRow(Shape):
    edge_id: str
    state: str
    reason: str
    received_at: str
    zones_version: int | None = Field(default=None, description="The pushed zones version the box runs")
    zones_refused: str | None = Field(default=None, description="The last version it refused, and why")


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
    running_on: str | None = Field(description="The box that reports the camera now")
    classes: list[str] | None = Field(description="The class names that box's model knows; None: not yet heard")
    zones_running: int | None = Field(default=None, description="The pushed zones version that box runs")
    zones_saved: int | None = Field(default=None, description="The newest zones version pushed to it")
    zones_refused: str | None = Field(default=None, description="The last version it refused, and why")


class ZoneTestFinding(Shape):
    state: str = Field(description="opened, updated or cleared")
    at: str
    object_class: str
    bbox: list[float]
    dwell_s: float
    thumbnail: str | None = Field(description="data: URL of the camera's frame nearest the moment, box drawn")


class ZoneTestResult(Shape):
    camera_id: str
    edge_id: str
    samples: int = Field(description="Samples of the camera's recent past replayed")
    since: str | None
    until: str | None
    events: list[ZoneTestFinding]
    more: bool
    error: str | None = Field(description="Why the box could not run the test (e.g. a class its model lacks)")


class SavedZones(Shape):
    camera_id: str
    zones: list[dict[str, Any]]
    edge_id: str | None = Field(description="The box the zones were pushed to")
    pushed_version: int | None = Field(description="The version pushed (the box says when it runs it)")
    push_error: str | None = Field(description="Why they were saved but not pushed")


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
    labels: str | None = Field(description="A second layer over the tiles: street names (Tianditu's cva)")
    subdomains: str
    crs: Literal["wgs84", "gcj02"] = Field(description="gcj02: grids and cameras are shifted for display")
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


# --- the pages' words ---------------------------------------------------------------------


class PageWords(Shape):
    locale: str = Field(description="The language of these words")
    town_locale: str = Field(description="The town's language: the pages' default")
    locales: list[str]
    timezone: str = Field(description="The town's time zone: pages show every time in it")
    messages: dict[str, str] = Field(description="msgid → text; a message missing here is shown as its msgid")
    terms: dict[str, dict[str, str]] = Field(description="kind, state, action, role, channel: code → the town's word")
    event_codes: dict[str, str] = Field(description="The standard event code of each violation kind")


# --- residents rate ---------------------------------------------------------------------------


class Invitation(Shape):
    url: str = Field(description="The resident's one-time link (its secret after #t=)")
    expires_at: str
    qr_svg: str = Field(description="The link as a QR code: an SVG data URI")
    sent: bool | None = Field(default=None, description="With send_to: whether the SMS gateway took the text")


class ResidentView(Shape):
    kind: str
    event_code: str | None
    micro_grid: str
    opened_at: str
    expires_at: str
    before_url: str | None = Field(description="The camera's picture of the spot taken (signed link)")
    after_url: str | None = Field(description="The camera's picture of the spot free (signed link)")


class Thanks(Shape):
    rated: int


# --- consultations ----------------------------------------------------------------------------


class ConsultNote(Shape):
    author_id: str
    author_role: str
    text: str
    photo_sha256: str | None
    photo_url: str | None = Field(description="A signed link to the note's photo")
    at: str


class ConsultationView(Shape):
    state: str = Field(description="The case's state: the thread takes notes while it is consult")
    participants: list[str] = Field(description="The worker, the micro-grid's leader, the line department")
    notes: list[ConsultNote]
