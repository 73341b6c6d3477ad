"""GridPatrol's event contract, shared by the edge and the dispatcher (and nothing else)."""

from contract.events import (
    CAMERA_STATUS_SUBSCRIPTION,
    EVENTS_SUBSCRIPTION,
    SCHEMA_VERSION,
    CameraState,
    CameraStatus,
    DetectedObject,
    EventState,
    Snapshot,
    ViolationEvent,
    ViolationKind,
    camera_status_topic,
    event_id_for,
    event_topic,
    parse_event,
    violation_id_for,
)

__all__ = [
    "CAMERA_STATUS_SUBSCRIPTION",
    "EVENTS_SUBSCRIPTION",
    "SCHEMA_VERSION",
    "CameraState",
    "CameraStatus",
    "DetectedObject",
    "EventState",
    "Snapshot",
    "ViolationEvent",
    "ViolationKind",
    "camera_status_topic",
    "event_id_for",
    "event_topic",
    "parse_event",
    "violation_id_for",
]
