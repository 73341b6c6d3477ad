"""The violation event: what an edge box publishes and the dispatcher ingests.

This module is the one place the two halves share. It holds only pydantic models and
pure helpers, so importing it pulls in neither OpenCV nor ONNX Runtime.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

SCHEMA_VERSION = 1
# Compatible additions within v1 (a consumer of an older revision reads newer events after
# updating; the version in the payload stays 1):
#   1.1: optional location (GeoPoint) and shop_id; micro_grid may be left out when either is
#        given: the dispatcher finds the micro-grid whose area holds the point, or the shop's;
#        camera state ``suspended`` (the view moved or is blocked: zones paused, reason says).
#   1.2: camera status ``last_frame_at`` (repeated as a heartbeat).
#   1.3: ``before``: the spot before the object came to rest, on opened events.
#   1.4: ``objects[].crop``: the object cut out of the frame, at the camera's resolution.
#   1.5: bounds that every producer already kept: numbers finite and in range (``dwell_s`` at
#        most a year, box coordinates within 100,000 px, image sides within 65,535 px),
#        ``observed_at`` not before ``started_at``, image URLs http(s):// or file:// only.
#   1.6: the edge box's own status (``gridpatrol/v1/<edge_id>/status``) as a typed message,
#        ``EdgeStatus``; what boxes already sent (``{"state": ...}``) still validates.
#   1.7: ``EdgeStatus.classes``: the box's model's class names (and ``stationary_object``),
#        for the zone editor; zone tests (contract/zonetest.py) on their own topics; zones
#        pushed to boxes (contract/configpush.py), ``EdgeStatus.zones_version`` the version a
#        box runs and ``zones_refused`` the version it refused and why.
SCHEMA_REVISION = "1.7.0"

# Names used to build deterministic ids (uuid5): the same violation found again by a
# replay of the same input gets the same ids, and a retried publish repeats its id.
_ID_NAMESPACE = uuid.UUID("6b1c7a52-9d0e-4c53-a8d4-5f3e1c2b9a10")


class ViolationKind(StrEnum):
    parked_bike = "parked_bike"
    cross_door_trading = "cross_door_trading"


class EventState(StrEnum):
    opened = "opened"
    updated = "updated"
    cleared = "cleared"


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamp must carry a time zone (ISO 8601 with Z or +00:00)")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]
Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
SHA256_PATTERN = r"^[0-9a-f]{64}$"  # an image's name everywhere: its lower-case hex SHA-256
Sha256 = Annotated[str, Field(pattern=SHA256_PATTERN)]
MAX_DWELL_S = 366 * 86400.0  # a violation standing longer than a year is a stuck clock, not a stop
MAX_PIXELS = 100_000.0  # no camera frame is wider or taller
Coordinate = Annotated[float, Field(ge=-MAX_PIXELS, le=MAX_PIXELS, allow_inf_nan=False)]
ImageSide = Annotated[int, Field(gt=0, le=65535)]


class Snapshot(BaseModel):
    """Where the evidence image is, and how to check it is the right one."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2048, pattern=r"^(https?|file)://",
                     description="http(s):// or file:// URL")
    content_type: Literal["image/jpeg"] = "image/jpeg"
    sha256: Sha256
    width: ImageSide
    height: ImageSide


class DetectedObject(BaseModel):
    model_config = ConfigDict(extra="forbid")

    class_name: str = Field(min_length=1, max_length=64)
    confidence: float = Field(ge=0.0, le=1.0, allow_inf_nan=False)
    bbox: tuple[Coordinate, Coordinate, Coordinate, Coordinate] = Field(
        description="x1, y1, x2, y2 in pixels of the camera frame"
    )
    track_id: int = Field(ge=0, le=2**53)
    crop: Snapshot | None = Field(
        default=None, description="Since revision 1.4: the object cut out of the frame with a margin, at the "
        "camera's resolution (the snapshot shows where it is, the crop what it is)",
    )

    @field_validator("bbox")
    @classmethod
    def _ordered(cls, bbox: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        x1, y1, x2, y2 = bbox
        if x2 < x1 or y2 < y1:
            raise ValueError("bbox must be [x1, y1, x2, y2] with x2 >= x1 and y2 >= y1")
        return bbox


class GeoPoint(BaseModel):
    """A place on the map: WGS 84 longitude and latitude, as GeoJSON orders them."""

    model_config = ConfigDict(extra="forbid")

    lon: float = Field(ge=-180.0, le=180.0, allow_inf_nan=False)
    lat: float = Field(ge=-90.0, le=90.0, allow_inf_nan=False)


class ViolationEvent(BaseModel):
    """One state change of one violation at one spot of one camera."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"anyOf": [
        {"required": ["micro_grid"], "properties": {"micro_grid": {"type": "string"}}},
        {"required": ["location"], "properties": {"location": {"type": "object"}}},
        {"required": ["shop_id"], "properties": {"shop_id": {"type": "string"}}},
    ]})

    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: uuid.UUID = Field(description="Stable across retries: the same event keeps its id")
    violation_id: uuid.UUID = Field(
        description="Shared by the opened, updated and cleared events of one violation"
    )
    kind: ViolationKind
    state: EventState
    edge_id: Identifier
    camera_id: Identifier
    zone_id: Identifier
    micro_grid: Identifier | None = Field(
        default=None, description="The zone's micro-grid; when absent the dispatcher finds it from location or shop"
    )
    location: GeoPoint | None = Field(default=None, description="The zone's place on the map")
    shop_id: Identifier | None = Field(default=None, description="The shop whose front the zone is")
    started_at: UtcDatetime = Field(description="When the object came to rest in the zone")
    observed_at: UtcDatetime = Field(description="Time of the frame that decided this event")
    dwell_s: float = Field(ge=0.0, le=MAX_DWELL_S, allow_inf_nan=False)
    objects: list[DetectedObject] = Field(default_factory=list, max_length=256)
    snapshot: Snapshot | None = None
    before: Snapshot | None = Field(
        default=None,
        description="Since revision 1.3, on opened events: an earlier frame of the camera showing the spot before "
        "the object came to rest (none when the object was there from the camera's start)",
    )

    @model_validator(mode="after")
    def _placed(self) -> ViolationEvent:
        if self.micro_grid is None and self.location is None and self.shop_id is None:
            raise ValueError("an event needs micro_grid, location or shop_id (to find the micro-grid by)")
        if self.observed_at < self.started_at:
            raise ValueError("observed_at is before started_at")
        if (self.observed_at - self.started_at).total_seconds() > MAX_DWELL_S:
            raise ValueError("started_at is more than a year before observed_at")
        return self

    def topic(self) -> str:
        return event_topic(self.edge_id, self.camera_id)


def violation_id_for(edge_id: str, camera_id: str, zone_id: str, spot_id: int, started_at: datetime) -> uuid.UUID:
    """The id of a violation, derived from where and since when the object stands."""
    key = f"{edge_id}/{camera_id}/{zone_id}/{spot_id}/{started_at.astimezone(UTC).isoformat()}"
    return uuid.uuid5(_ID_NAMESPACE, key)


def event_id_for(violation_id: uuid.UUID, state: EventState, sequence: int = 0) -> uuid.UUID:
    """The id of one event of a violation (``sequence`` counts its ``updated`` events, and its
    ``cleared`` events before this one: a stop missed for a while clears and goes on)."""
    return uuid.uuid5(_ID_NAMESPACE, f"{violation_id}/{state.value}/{sequence}")


TOPIC_PREFIX = "gridpatrol/v1"


def event_topic(edge_id: str, camera_id: str) -> str:
    return f"{TOPIC_PREFIX}/{edge_id}/{camera_id}/events"


def camera_status_topic(edge_id: str, camera_id: str) -> str:
    return f"{TOPIC_PREFIX}/{edge_id}/{camera_id}/status"


def edge_status_topic(edge_id: str) -> str:
    return f"{TOPIC_PREFIX}/{edge_id}/status"


EVENTS_SUBSCRIPTION = f"{TOPIC_PREFIX}/+/+/events"
CAMERA_STATUS_SUBSCRIPTION = f"{TOPIC_PREFIX}/+/+/status"
EDGE_STATUS_SUBSCRIPTION = f"{TOPIC_PREFIX}/+/status"


class EdgeState(StrEnum):
    online = "online"
    offline = "offline"  # said by the broker, the box's last will, when the box is gone


class EdgeStatus(BaseModel):
    """An edge box's own status, published retained: ``online`` when it connects, ``offline``
    as its MQTT last will. The topic names the box."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = SCHEMA_VERSION
    edge_id: Identifier | None = Field(default=None, description="Since revision 1.6; the topic's box when given")
    state: EdgeState
    reason: str = Field(default="", max_length=500)
    classes: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        default=None, max_length=1000, description="Since revision 1.7: the class names the box's model knows, and "
        "stationary_object (what its background model finds), for zones to choose from")
    zones_version: int | None = Field(default=None, ge=1, description="Since revision 1.7: the version of pushed "
                                      "zones the box runs (contract/configpush.py); None: its own config file's")
    zones_refused: str | None = Field(default=None, max_length=500, description="Since revision 1.7: the last pushed "
                                      "version the box refused, and why (\"<version>: <reason>\")")


class CameraState(StrEnum):
    online = "online"
    offline = "offline"
    stalled = "stalled"
    suspended = "suspended"  # the stream is up but its view no longer fits the zones (moved, blocked, blurred)


class CameraStatus(BaseModel):
    """A camera's current health, published retained: the newest message is the state."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = SCHEMA_VERSION
    edge_id: Identifier
    camera_id: Identifier
    state: CameraState
    reason: str = Field(default="", max_length=500)
    since: UtcDatetime = Field(description="When the camera entered this state")
    last_frame_at: UtcDatetime | None = Field(
        default=None, description="When the edge last decoded a frame of this camera (since revision 1.2: "
        "repeated as a heartbeat while the camera runs)",
    )

    def topic(self) -> str:
        return camera_status_topic(self.edge_id, self.camera_id)


def parse_event(payload: bytes | str) -> ViolationEvent:
    """Parse one MQTT payload; raises ``pydantic.ValidationError`` naming the bad field."""
    return ViolationEvent.model_validate_json(payload)


def utcnow() -> datetime:
    return datetime.now(UTC)
