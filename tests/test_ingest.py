"""What ingest refuses and keeps aside (quarantine, with the reason): one box touching another
box's cases, an event id replayed with other content, times out of the window, cameras the
town did not give to the box, image links pages must not load, numbers that are not numbers.
A real Mosquitto and a real dispatcher; events published as an edge box publishes them."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from builders import api_client, case_for, dispatcher_config, iso, open_case, publish_event, sample_event, wait_for

from contract import EventState, event_id_for
from gridpatrol.broker import LocalBroker
from gridpatrol.demo import DispatcherThread


def quarantined(thread: DispatcherThread, count: int) -> list[dict]:
    staff = api_client(thread)

    def found() -> list[dict] | None:
        rows = staff.get("/api/v1/quarantine").json()
        return rows if len(rows) >= count else None

    return wait_for(found, 15, f"{count} quarantined messages")


def test_one_box_cannot_update_or_clear_another_boxs_case(dispatcher: DispatcherThread, mosquitto) -> None:
    case = open_case(dispatcher, mosquitto)  # box-01/cam-001
    vid = uuid.UUID(case["violation_id"])
    # box-02, on its own topic (the broker's ACL allows that), names box-01's violation.
    for state in (EventState.updated, EventState.cleared):
        publish_event(mosquitto, sample_event(edge_id="box-02", state=state.value,
                                              event_id=str(event_id_for(vid, state)), dwell_s=900.0))
    reasons = [q["reason"] for q in quarantined(dispatcher, 2)]
    assert all(f"violation {vid} was reported by box-01/cam-001, not box-02/cam-001" in r for r in reasons)
    after = api_client(dispatcher).get(f"/api/v1/cases/{case['id']}").json()
    assert after["cleared_at"] is None and after["dwell_s"] == case["dwell_s"]
    assert [t["action"] for t in after["timeline"]] == ["report", "dispatch"]


def test_another_box_at_the_same_spot_does_not_join_the_case(dispatcher: DispatcherThread, mosquitto) -> None:
    case = open_case(dispatcher, mosquitto)
    other = sample_event(edge_id="box-02", violation_id=str(uuid.uuid4()), event_id=str(uuid.uuid4()))
    publish_event(mosquitto, other)
    theirs = wait_for(lambda: case_for(api_client(dispatcher), other["violation_id"]), 10, "box-02's own case")
    assert theirs["id"] != case["id"] and theirs["edge_id"] == "box-02"
    timeline = api_client(dispatcher).get(f"/api/v1/cases/{case['id']}").json()["timeline"]
    assert "join" not in [t["action"] for t in timeline]


def test_an_event_id_seen_again_with_other_content_is_quarantined(dispatcher: DispatcherThread, mosquitto) -> None:
    event = sample_event()
    case = open_case(dispatcher, mosquitto)
    publish_event(mosquitto, event)  # the same message again: a duplicate, nothing kept aside
    publish_event(mosquitto, {**event, "dwell_s": 5.0, "kind": "cross_door_trading"})
    (row,) = quarantined(dispatcher, 1)
    assert row["reason"] == f"event {event['event_id']} was received before with other content (dwell_s, kind)"
    assert api_client(dispatcher).get(f"/api/v1/cases/{case['id']}").json()["kind"] == "parked_bike"
    assert dispatcher.services.ingest.stats.duplicates == 1


def test_times_out_of_the_window_are_quarantined(dispatcher: DispatcherThread, mosquitto) -> None:
    now = datetime.now(UTC)
    old, ahead = now - timedelta(days=40), now + timedelta(hours=2)
    publish_event(mosquitto, sample_event(started_at=iso(old), observed_at=iso(old)))
    publish_event(mosquitto, sample_event(edge_id="box-02", started_at=iso(ahead), observed_at=iso(ahead)))
    reasons = {q["reason"].split(" is ")[0]: q["reason"] for q in quarantined(dispatcher, 2)}
    assert reasons[f"observed_at {old.isoformat()}"].endswith("is older than 14 days")
    assert "ahead of the dispatcher's clock" in reasons[f"observed_at {ahead.isoformat()}"]
    assert api_client(dispatcher).get("/api/v1/cases").json() == []


@pytest.mark.parametrize(("field", "value", "reason"), [
    ("dwell_s", "Infinity", "dwell_s"),
    ("dwell_s", "1e308", "dwell_s: Input should be less than or equal to"),
    ("objects", '[{"class_name": "bicycle", "confidence": 0.8, "bbox": [NaN, 20, 60, 90], "track_id": 3}]', "bbox"),
    ("started_at", '"1970-01-01T00:00:00Z"', "more than a year"),
    ("snapshot", '{"url": "javascript:alert(1)", "sha256": "' + "a" * 64 + '", "width": 1, "height": 1}',
     "snapshot.url"),
])
def test_numbers_and_links_out_of_bounds_are_quarantined(
    dispatcher: DispatcherThread, mosquitto, field: str, value: str, reason: str,
) -> None:
    event = sample_event()
    text = json.dumps({**event, field: "@@"}).replace('"@@"', value)
    publish_event(mosquitto, text, topic="gridpatrol/v1/box-01/cam-001/events")
    (row,) = quarantined(dispatcher, 1)
    assert reason in row["reason"], row["reason"]


def test_image_links_are_this_dispatchers_evidence_or_not_shown(dispatcher: DispatcherThread, mosquitto) -> None:
    sha = "b" * 64
    foreign = sample_event(snapshot={"url": f"https://evil.example/{sha}.jpg", "sha256": sha, "width": 9, "height": 9})
    mismatched = sample_event(edge_id="box-02", snapshot={"url": f"http://d/api/v1/evidence/{'c' * 64}.jpg",
                                                          "sha256": sha, "width": 9, "height": 9})
    publish_event(mosquitto, foreign)
    publish_event(mosquitto, mismatched)
    reasons = [q["reason"] for q in quarantined(dispatcher, 2)]
    assert all(r.startswith("snapshot.url: ") and "is not an evidence link of its sha256" in r for r in reasons)
    # A file kept on the box is fine to report, but no page is handed a file:// link.
    on_box = sample_event(edge_id="box-03", snapshot={"url": f"file:///var/edge/evidence/{sha}.jpg", "sha256": sha,
                                                       "width": 9, "height": 9})
    publish_event(mosquitto, on_box)
    case = wait_for(lambda: case_for(api_client(dispatcher), on_box["violation_id"]), 10, "the case")
    assert case["snapshot_url"] is None and case["snapshot_sha256"] == sha
    # Another dispatcher's address is signed again with this one's.
    assert dispatcher.services.links.sign(f"http://elsewhere/api/v1/evidence/{sha}.jpg").startswith(dispatcher.url)


def test_cameras_not_given_to_the_box_are_quarantined(tmp_path: Path, mosquitto: LocalBroker) -> None:
    town = tmp_path / "town.yaml"
    town.write_text(yaml.safe_dump({"edge_id": "town", "cameras": [
        {"id": "cam-001", "url": "x.mp4", "edge": "box-01", "zones": []},
        {"id": "cam-002", "url": "y.mp4", "edge": "box-02", "zones": []}]}))
    thread = DispatcherThread(dispatcher_config(tmp_path, mosquitto.url, edge_config=town))
    thread.start()
    try:
        good = sample_event()
        publish_event(mosquitto, sample_event(camera_id="cam-999", violation_id=str(uuid.uuid4())))
        publish_event(mosquitto, sample_event(camera_id="cam-002", violation_id=str(uuid.uuid4())))
        publish_event(mosquitto, good)
        wait_for(lambda: case_for(api_client(thread), good["violation_id"]), 10, "the known camera's case")
        reasons = sorted(q["reason"] for q in quarantined(thread, 2))
        assert reasons == ["camera 'cam-002' belongs to box 'box-02', not 'box-01'",
                           "camera 'cam-999' is not in the town's edge config"]
    finally:
        thread.stop()


def test_malformed_messages_are_quarantined_and_ingest_goes_on(
        dispatcher: DispatcherThread, mosquitto: LocalBroker) -> None:
    api = api_client(dispatcher)
    topic = "gridpatrol/v1/box-01/cam-001/events"
    good = sample_event()
    wrong_topic = sample_event(camera_id="cam-002")
    bad = [b"not json", b'{"schema_version": 1}', json.dumps(sample_event(state="closed")).encode(),
           json.dumps(wrong_topic).encode(), b"\xff\xfe" * 10]
    for payload in bad:
        publish_event(mosquitto, payload, topic)
    publish_event(mosquitto, good, topic)
    wait_for(lambda: len(api.get("/api/v1/cases").json()) == 1, 10, "the good event's case")
    rows = api.get("/api/v1/quarantine").json()
    assert len(rows) == len(bad)
    reasons = " | ".join(r["reason"] for r in rows)
    assert "not a valid v1 event" in reasons and "state" in reasons
    assert "does not match the event's edge and camera" in reasons
    health = api.get("/healthz").json()
    assert (health["quarantined"], health["stored"], health["status"]) == (len(bad), 1, "ok")
    metrics = api_client(dispatcher, machine="monitor").get("/metrics").text
    assert f'gridpatrol_dispatcher_messages_total{{outcome="quarantined"}} {float(len(bad))}' in metrics
    assert 'gridpatrol_dispatcher_cases{state="dispatched"} 1.0' in metrics
    case = api.get("/api/v1/cases").json()[0]
    assert case["worker_id"] == "w-017" and case["snapshot_sha256"] == "a" * 64
    api.close()
