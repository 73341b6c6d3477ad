"""Dispatcher cases and the two long-running commands as real processes."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import paho.mqtt.subscribe as mqtt_subscribe
import pytest
import yaml
from builders import api_client, dispatcher_config, publish_event, sample_event

from contract import EdgeStatus, EventState, Snapshot, ViolationEvent, event_id_for
from dispatcher.cases import CaseService
from dispatcher.db import CaseRow, NotificationRow, PushSubscriptionRow, make_engine, make_sessions
from dispatcher.grid import load_grid
from gridpatrol.broker import LocalBroker, free_port, wait_port
from gridpatrol.demo import DispatcherThread

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def service(tmp_path: Path) -> CaseService:
    sessions = make_sessions(make_engine(f"sqlite:///{tmp_path / 'd.sqlite'}"))
    return CaseService(sessions, load_grid(ROOT / "configs/grid.yaml"))


def event(state: str, **overrides: object) -> ViolationEvent:
    opened = ViolationEvent.model_validate(sample_event(**overrides))
    if state == "opened":
        return opened
    return opened.model_copy(update={
        "state": EventState(state), "event_id": event_id_for(opened.violation_id, EventState(state)),
        "observed_at": opened.observed_at.replace(minute=10),
    })


def test_opened_then_cleared_marks_the_case_cleared_by_the_camera(service: CaseService) -> None:
    with service.sessions() as s:
        s.add(PushSubscriptionRow(person_id="w-017", endpoint="https://push.example/x", p256dh="k" * 20, auth="a" * 16))
        s.commit()
    first = service.ingest(event("opened"))
    assert first.opened and not first.duplicate and len(first.deliveries) == 1  # the push; the inbox needs none
    assert service.ingest(event("opened")).duplicate
    free = Snapshot(url="http://x/api/v1/evidence/b.jpg", sha256="b" * 64, width=640, height=480)
    assert not service.ingest(event("cleared").model_copy(update={"snapshot": free})).opened
    with service.sessions() as s:
        case = s.get(CaseRow, first.case_id)
        assert case.state == "dispatched" and case.cleared_at is not None and case.cleared_at.minute == 10
        assert (case.cleared_snapshot_sha256, case.snapshot_sha256) == ("b" * 64, "a" * 64)  # now and spot free
        assert sorted(n.channel for n in s.query(NotificationRow)) == ["inbox", "webpush"]


def test_an_updated_reminder_refreshes_the_case_not_a_new_one(service: CaseService) -> None:
    first = service.ingest(event("opened"))
    reminder = event("opened").model_copy(update={
        "state": EventState.updated, "event_id": event_id_for(event("opened").violation_id, EventState.updated, 1),
        "dwell_s": 1800.0, "snapshot": Snapshot(url="http://x/api/v1/evidence/b.jpg", sha256="b" * 64,
                                                 width=640, height=480)})
    again = service.ingest(reminder)
    assert not again.opened and not again.duplicate and again.case_id == first.case_id and not again.deliveries
    with service.sessions() as s:
        case = s.get(CaseRow, first.case_id)
        assert (case.dwell_s, case.snapshot_sha256, case.state) == (1800.0, "b" * 64, "dispatched")
        assert s.query(CaseRow).count() == 1


def test_cleared_arriving_before_opened_still_ends_on_the_case(service: CaseService) -> None:
    assert service.ingest(event("cleared")).case_id is None
    result = service.ingest(event("opened"))
    with service.sessions() as s:
        assert s.get(CaseRow, result.case_id).cleared_at is not None


def test_unknown_micro_grid_opens_a_case_for_manual_dispatch(service: CaseService) -> None:
    result = service.ingest(event("opened", micro_grid="mg-999"))
    with service.sessions() as s:
        case = s.get(CaseRow, result.case_id)
        assert case.worker_id is None and "mg-999" in case.routing_note and "by hand" in case.routing_note
    assert result.deliveries == ()


def test_dispatcher_serve_runs_as_a_process_and_refuses_a_bad_config(tmp_path: Path, mosquitto: LocalBroker) -> None:
    port = free_port()
    config = {
        "database_url": f"sqlite:///{tmp_path / 'db.sqlite'}", "data_dir": str(tmp_path / "data"),
        "grid_file": str(ROOT / "configs/grid.yaml"), "mqtt": {"url": mosquitto.url},
        "http": {"host": "127.0.0.1", "port": port},
    }
    path = tmp_path / "dispatcher.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = subprocess.Popen([sys.executable, "-m", "gridpatrol.cli", "dispatcher", "serve", "--config", str(path)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert wait_port(port, 30)
        for _ in range(50):
            health = httpx.get(f"http://127.0.0.1:{port}/healthz").json()
            if health["mqtt_connected"]:
                break
            time.sleep(0.1)
        assert health["status"] == "ok" and health["mqtt_connected"]
        assert httpx.get(f"http://127.0.0.1:{port}/worker/").text.count("GridPatrol") >= 1
        assert "/api/v1/cases" in httpx.get(f"http://127.0.0.1:{port}/openapi.json").json()["paths"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)

    config["grid_file"] = str(tmp_path / "missing-grid.yaml")
    path.write_text(yaml.safe_dump(config))
    bad = subprocess.run([sys.executable, "-m", "gridpatrol.cli", "dispatcher", "serve", "--config", str(path)],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "missing-grid.yaml: cannot read config file" in bad.stderr


def test_edge_run_announces_itself_and_ends_with_its_clip(tmp_path: Path, mosquitto: LocalBroker, shared: Path) -> None:
    config = yaml.safe_load((ROOT / "configs/edge.example.yaml").read_text())
    config["model"]["path"] = str(shared / "models/yolo11n-coco-int8-320.onnx")
    config["mqtt"]["url"] = mosquitto.url
    config["cameras"] = config["cameras"][:1]
    config["cameras"][0]["url"] = str(shared / "media/clips/street-1920x1080.mp4")  # 3.4 s
    config["evidence"] = {"dir": str(tmp_path / "evidence")}
    config["outbox"] = {"path": str(tmp_path / "outbox.sqlite")}
    path = tmp_path / "edge.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = subprocess.run([sys.executable, "-m", "gridpatrol.cli", "edge", "run", "--config", str(path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    host, port = mosquitto.url.removeprefix("mqtt://").split(":")
    status = mqtt_subscribe.simple("gridpatrol/v1/box-01/status", hostname=host, port=int(port))
    said = EdgeStatus.model_validate_json(status.payload)
    assert status.retain and (said.edge_id, said.state, said.reason) == ("box-01", "offline", "stopped")


def test_a_running_dispatcher_escalates_on_its_own(tmp_path: Path, mosquitto: LocalBroker) -> None:
    policy = {"accept_within_min": 0.02, "handle_within_min": 60, "clock": "plain"}  # 1.2 s to accept
    config = dispatcher_config(tmp_path, mosquitto.url, escalation={
        "poll_s": 0.2, "policies": {"parked_bike": policy, "cross_door_trading": policy}})
    thread = DispatcherThread(config)
    thread.start()
    try:
        publish_event(mosquitto, sample_event())
        api = api_client(thread)
        for _ in range(100):
            found = api.get("/api/v1/cases").json()
            if found and found[0]["escalation_level"] == 1:
                break
            time.sleep(0.1)
        case = api.get(f"/api/v1/cases/{found[0]['id']}").json()
        assert (case["assignee_id"], case["escalation_level"]) == ("l-017", 1)
        escalation = next(t for t in case["timeline"] if t["action"] == "escalate")
        assert escalation["reason"] == "not accepted in time" and escalation["actor_role"] == "system"
    finally:
        thread.stop()
