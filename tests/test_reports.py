"""Cases from people (dispatcher/cases/reports.py): a worker's patrol report with its photo and
place, and the city hotline's tickets, enter the same flow as the cameras' events. A real
dispatcher over HTTP."""

from __future__ import annotations

from builders import api_client, jpeg_bytes, upload_jpeg

from gridpatrol.demo import DispatcherThread


def test_a_patrol_report_becomes_a_case_of_the_place(dispatcher: DispatcherThread) -> None:
    """Reported from a place in mg-018's area (not the reporter's own grid): routed there."""
    worker = api_client(dispatcher, "w-017")
    photo = upload_jpeg(worker, jpeg_bytes(shade=60))
    made = worker.post("/api/v1/reports", json={"kind": "parked_bike", "note": "三辆电动车堵住盲道",
                                                "lon": 120.165, "lat": 30.28, "photo_sha256": photo})
    assert made.status_code == 201, made.text
    case = made.json()
    assert (case["source"], case["micro_grid"], case["state"], case["assignee_id"]) == (
        "patrol", "mg-018", "dispatched", "w-018")
    assert case["report_note"] == "三辆电动车堵住盲道" and case["event_code"] == "0506"
    assert case["snapshot_sha256"] == photo  # the photo, a signed link the assigned worker's page loads
    assert api_client(dispatcher, "w-018").get(case["snapshot_url"]).status_code == 200
    detail = api_client(dispatcher).get(f"/api/v1/cases/{case['id']}").json()
    steps = [(t["action"], t["actor_id"]) for t in detail["timeline"]][:2]
    assert steps == [("report", "w-017"), ("dispatch", "system")]
    month = case["opened_at"][:7]
    rows = {r["group"]: r for r in api_client(dispatcher).get("/api/v1/assessment",
                                                               params={"month": month, "by": "worker"}).json()}
    assert rows["w-018"]["patrol_reports"] == 1


def test_a_report_needs_the_reporters_own_photo_and_a_person(dispatcher: DispatcherThread) -> None:
    other = upload_jpeg(api_client(dispatcher, "w-018"), jpeg_bytes(shade=10))
    stolen = api_client(dispatcher, "w-017").post("/api/v1/reports", json={
        "kind": "parked_bike", "note": "x", "micro_grid": "mg-017", "photo_sha256": other})
    assert stolen.status_code == 409
    assert api_client(dispatcher, machine="edge").post("/api/v1/reports", json={}).status_code == 403
    bad = api_client(dispatcher, "w-017").post("/api/v1/reports", json={
        "kind": "parked_bike", "note": "x", "lon": 999, "photo_sha256": other})
    assert bad.status_code == 422


def test_a_hotline_ticket_is_one_case_however_often_it_comes(dispatcher: DispatcherThread) -> None:
    platform = api_client(dispatcher, machine="admin")
    ticket = {"ticket_id": "12345-2026-120400017", "kind": "cross_door_trading", "micro_grid": "mg-017",
              "description": "水果店把货架摆到人行道上", "address": "东街3号"}
    first = platform.post("/api/v1/hotline-cases", json=ticket)
    assert first.status_code == 201, first.text
    case = first.json()
    assert (case["source"], case["camera_id"], case["assignee_id"]) == ("hotline", "12345", "w-017")
    assert case["report_note"] == "水果店把货架摆到人行道上 (东街3号)" and case["event_code"] == "0504"
    again = platform.post("/api/v1/hotline-cases", json=ticket)
    assert again.status_code == 200 and again.json()["id"] == case["id"]
    assert api_client(dispatcher, "w-017").post("/api/v1/hotline-cases", json=ticket).status_code == 403


def test_a_ticket_with_a_place_or_time_that_is_no_such_thing_is_refused(dispatcher: DispatcherThread) -> None:
    """Found by schemathesis: pydantic took true for a latitude and 0 for a time."""
    platform = api_client(dispatcher, machine="admin")
    base = {"ticket_id": "t-1", "kind": "parked_bike", "description": "x", "micro_grid": "mg-017"}
    assert platform.post("/api/v1/hotline-cases", json={**base, "lat": False, "lon": 0.0}).status_code == 422
    assert platform.post("/api/v1/hotline-cases", json={**base, "reported_at": 0}).status_code == 422
    fine = platform.post("/api/v1/hotline-cases", json={**base, "lon": 120, "lat": 30.28,
                                                          "reported_at": "2026-12-04T09:58:00+08:00"})
    assert fine.status_code == 201 and fine.json()["started_at"].startswith("2026-12-04T01:58:00")
