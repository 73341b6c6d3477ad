"""GridPatrol's event contract, shared by the edge and the dispatcher (and nothing else)."""

from contract.events import (
    EVENTS_SUBSCRIPTION,
    SCHEMA_VERSION,
    DetectedObject,
    EventState,
    Snapshot,
    ViolationEvent,
    ViolationKind,
    event_id_for,
    event_topic,
    parse_event,
    violation_id_for,
)

__all__ = [
    "EVENTS_SUBSCRIPTION",
    "SCHEMA_VERSION",
    "DetectedObject",
    "EventState",
    "Snapshot",
    "ViolationEvent",
    "ViolationKind",
    "event_id_for",
    "event_topic",
    "parse_event",
    "violation_id_for",
]
