"""The event contract: models, generated JSON Schema and AsyncAPI stay in step."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import jsonschema
import pytest
import yaml
from builders import sample_event
from pydantic import ValidationError

from contract import (
    EdgeState,
    EdgeStatus,
    EventState,
    ViolationEvent,
    edge_status_topic,
    event_id_for,
    event_topic,
    parse_event,
    violation_id_for,
)
from contract.schema import ASYNCAPI_PATH, JSON_SCHEMA_PATH, render


def test_committed_schema_files_match_the_models() -> None:
    for path, text in render().items():
        assert path.read_text(encoding="utf-8") == text, f"{path.name} is stale: run `make schema`"


def test_json_schema_accepts_what_the_model_accepts_and_rejects_the_rest() -> None:
    schema = json.loads(JSON_SCHEMA_PATH.read_text())
    good = sample_event()
    jsonschema.validate(good, schema)
    assert parse_event(json.dumps(good)).state is EventState.opened
    for bad in (sample_event(kind="double_parking"), sample_event(state="closed"), sample_event(extra=1)):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)
        with pytest.raises(ValidationError):
            ViolationEvent.model_validate(bad)


def test_asyncapi_documents_the_events_topic_at_qos1() -> None:
    doc = yaml.safe_load(ASYNCAPI_PATH.read_text())
    assert doc["asyncapi"].startswith("3.")
    assert doc["channels"]["events"]["address"] == "gridpatrol/v1/{edge_id}/{camera_id}/events"
    assert doc["operations"]["publishEvent"]["bindings"]["mqtt"]["qos"] == 1
    assert "ViolationEvent" in doc["components"]["schemas"]
    assert event_topic("box-01", "cam-001") == "gridpatrol/v1/box-01/cam-001/events"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("observed_at", "2026-05-01T08:02:00", "time zone"),
        ("objects", [{"class_name": "bike", "confidence": 0.5, "bbox": [50, 20, 10, 90], "track_id": 1}], "x2 >= x1"),
        ("objects", [{"class_name": "bike", "confidence": 1.5, "bbox": [1, 2, 3, 4], "track_id": 1}], "less than"),
        ("camera_id", "cam/001", "pattern"),
        ("dwell_s", float("inf"), "finite"),
        ("dwell_s", 1e12, "less than"),
        ("objects", [{"class_name": "bike", "confidence": 0.5, "bbox": [float("nan"), 2, 3, 4], "track_id": 1}],
         "finite"),
        ("objects", [{"class_name": "bike", "confidence": 0.5, "bbox": [1, 2, 3e9, 4], "track_id": 1}], "less than"),
        ("snapshot", {"url": "javascript:alert(1)", "sha256": "a" * 64, "width": 1, "height": 1}, "pattern"),
        ("snapshot", {"url": "http://x/a.jpg", "sha256": "a" * 64, "width": 10**9, "height": 1}, "less than"),
        ("location", {"lon": float("nan"), "lat": 30.0}, "finite"),
        ("started_at", "2030-01-01T00:00:00Z", "observed_at is before started_at"),
        ("started_at", "1990-01-01T00:00:00Z", "more than a year"),
    ],
)
def test_bad_fields_are_named(field: str, value: object, message: str) -> None:
    with pytest.raises(ValidationError) as err:
        ViolationEvent.model_validate(sample_event(**{field: value}))
    assert field in str(err.value) or field == "started_at"  # the last two are the event's, not a field's
    assert message in str(err.value)


def test_json_with_nan_or_infinity_is_refused() -> None:
    text = json.dumps(sample_event())
    for literal in ("NaN", "Infinity", "-Infinity"):
        with pytest.raises(ValidationError):
            parse_event(text.replace('"dwell_s": 120.0', f'"dwell_s": {literal}'))


def test_timestamps_are_normalised_to_utc() -> None:
    event = ViolationEvent.model_validate(sample_event(started_at="2026-05-01T08:00:00Z",
                                                       observed_at="2026-05-01T16:02:00+08:00"))
    assert event.observed_at == datetime(2026, 5, 1, 8, 2, tzinfo=UTC)


def test_ids_are_deterministic_and_distinct_per_state() -> None:
    started = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
    a = violation_id_for("box-01", "cam-001", "z1", 3, started)
    assert a == violation_id_for("box-01", "cam-001", "z1", 3, started)
    assert a != violation_id_for("box-01", "cam-001", "z1", 4, started)
    assert event_id_for(a, EventState.opened) != event_id_for(a, EventState.cleared)
    assert isinstance(a, uuid.UUID)


def test_the_edge_status_is_a_contract_message_old_boxes_still_fit() -> None:
    doc = yaml.safe_load(ASYNCAPI_PATH.read_text())
    assert doc["channels"]["edgeStatus"]["address"] == "gridpatrol/v1/{edge_id}/status"
    assert "EdgeStatus" in doc["components"]["schemas"]
    assert EdgeStatus.model_validate_json('{"state": "offline", "reason": "lost"}').state is EdgeState.offline
    for bad in ('{"state": "asleep"}', '{"state": "online", "extra": 1}', '{"state": "online", "edge_id": "a/b"}'):
        with pytest.raises(ValidationError):
            EdgeStatus.model_validate_json(bad)
    assert edge_status_topic("box-01") == "gridpatrol/v1/box-01/status"
