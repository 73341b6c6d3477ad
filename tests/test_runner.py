"""The edge runner end to end, with real parts: a clip on an edge worker becomes cases at the
dispatcher through a real Mosquitto, routed to the grid worker, with snapshots, on the live
feed, and pushed to the worker's phone (a local push endpoint stands in for the browser
vendor's push service and decrypts the message as a browser would)."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path

import httpx
import paho.mqtt.publish as mqtt_publish
from builders import api_client, wait_for
from push_service import PushEndpoint, verify_vapid
from websockets.sync.client import connect

from contract import EventState, ViolationEvent
from edge.config import load_edge_config
from edge.runner import EdgeRunner
from gridpatrol.demo import DispatcherThread


def test_clip_to_cases_on_the_workers_phone(
    dispatcher: DispatcherThread, mosquitto, push_endpoint: PushEndpoint, project_root: Path,
    shared: Path, tmp_path: Path,
) -> None:
    api = api_client(dispatcher)  # the dispatcher on duty, d-01
    worker = api_client(dispatcher, "w-017")
    staff_token = api.headers["authorization"].removeprefix("Bearer ")
    # The worker's phone subscribes to Web Push.
    key = worker.get("/api/v1/push/vapid-public-key").json()["application_server_key"]
    assert worker.post("/api/v1/people/w-017/push-subscriptions", json=push_endpoint.subscription).status_code == 201

    feed_messages: list[dict] = []
    feed_ready = threading.Event()

    def listen() -> None:
        with connect(dispatcher.url.replace("http", "ws") + "/api/v1/feed", open_timeout=10,
                     additional_headers={"authorization": f"Bearer {staff_token}"}) as ws:
            feed_ready.set()
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and len([m for m in feed_messages if m.get("case_opened")]) < 50:
                try:
                    feed_messages.append(json.loads(ws.recv(timeout=1)))
                except TimeoutError:
                    if stop_listening.is_set():
                        return

    stop_listening = threading.Event()
    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert feed_ready.wait(10)

    config = load_edge_config(project_root / "configs/carpark.yaml")
    config = config.model_copy(update={
        "model": config.model.model_copy(update={"path": shared / "models/yolov8n-coco-int8-640.onnx"}),
        "mqtt": config.mqtt.model_copy(update={"url": mosquitto.url}),
        "cameras": [config.cameras[0].model_copy(update={"url": str(shared / "media/clips/carpark-320x240.mp4")})],
        "evidence": config.evidence.model_copy(update={
            "dir": tmp_path / "edge-evidence", "upload_url": f"{dispatcher.url}/api/v1/evidence",
            "upload_token": dispatcher.services.auth.issue_machine("test edge", "edge").token}),
        "outbox": config.outbox.model_copy(update={"path": tmp_path / "outbox.sqlite"}),
    })
    decided: list[ViolationEvent] = []
    runner = EdgeRunner(config, speed=0, on_event=decided.append)
    runner.start()
    runner.wait()
    runner.stop(flush_timeout_s=30)
    assert runner.outbox.path.exists()

    opened = [e for e in decided if e.state is EventState.opened]
    assert len(opened) >= 6
    wait_for(lambda: api.get("/healthz").json()["stored"] >= len(decided), 30, f"{len(decided)} events stored")
    cases = api.get("/api/v1/cases").json()
    # Every violation is on exactly one case: the one it opened, or the open case at the same
    # spot that it joined (two detections of one parked car). Each routed, with its snapshot.
    timelines = {c["id"]: api.get(f"/api/v1/cases/{c['id']}").json()["timeline"] for c in cases}
    joined = [t["data"]["violation_id"] for tl in timelines.values() for t in tl if t["action"] == "join"]
    assert sorted([c["violation_id"] for c in cases] + joined) == sorted(str(e.violation_id) for e in opened)
    assert len(cases) >= 6
    for case in cases:
        assert (case["worker_id"], case["leader_id"], case["micro_grid"]) == ("w-017", "l-017", "mg-017")
        assert case["state"] == "dispatched" and case["kind"] == "parked_bike"
        image = httpx.get(case["snapshot_url"])  # a signed link: no token needed, as for an <img>
        assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
        assert hashlib.sha256(image.content).hexdigest() == case["snapshot_sha256"]
    # Cars that came to rest after the camera started have the camera's frame of their spot
    # from before: uploaded with the snapshot, kept on the case, served through a signed link.
    befores = [c for c in cases if c["before_url"]]
    assert befores and all(c["before_sha256"] != c["snapshot_sha256"] for c in befores)
    for case in befores:
        image = httpx.get(case["before_url"])
        assert image.status_code == 200 and hashlib.sha256(image.content).hexdigest() == case["before_sha256"]

    # The worker's in-app inbox holds every case; each was pushed to the phone.
    inbox = worker.get("/api/v1/people/w-017/inbox").json()
    assert {i["case"]["id"] for i in inbox} == {c["id"] for c in cases}
    seen = worker.post("/api/v1/people/w-017/inbox/seen", json={"notification_ids": [i["notification_id"]
                                                                                      for i in inbox]})
    assert seen.json() == {"seen": len(cases), "delivered": len(cases)}  # as the worker page says it
    pushes = wait_for(lambda: push_endpoint.received if len(push_endpoint.received) >= len(cases) else None,
                      30, "a push per case")
    pushed_cases = set()
    for headers, body in pushes:
        assert headers["content-encoding"] == "aes128gcm" and int(headers["ttl"]) > 0
        verify_vapid(headers, key, push_endpoint.subscription["endpoint"].split("/push")[0])
        message = push_endpoint.decrypt(body)
        assert message["url"].startswith(f"{dispatcher.url}/worker/?case=")
        pushed_cases.add(message["case_id"])
    assert pushed_cases == {c["id"] for c in cases}
    # The push service took each push: "sent", not yet delivered (in mainland China a Web Push
    # often never reaches the phone). The phone's service worker calls the signed receipt URL.
    def push_status(case_id: int) -> str | None:
        detail = api.get(f"/api/v1/cases/{case_id}").json()
        return next((n["status"] for n in detail["notifications"] if n["channel"] == "webpush"), None)

    assert wait_for(lambda: push_status(cases[0]["id"]) == "sent", 10, "push sent")
    receipt_url = next(m["receipt_url"] for m in map(push_endpoint.decrypt, (b for _, b in pushes))
                       if m["case_id"] == cases[0]["id"])
    assert httpx.post(receipt_url.replace("sig=", "sig=x")).status_code == 403
    assert httpx.post(receipt_url).status_code == 204
    assert push_status(cases[0]["id"]) == "delivered"
    detail = api.get(f"/api/v1/cases/{cases[0]['id']}").json()
    assert {n["channel"] for n in detail["notifications"]} == {"inbox", "webpush"}
    # The worker's page listed the cases: each counts as delivered to its worker.
    assert detail["delivered_at"] is not None
    assert any(t["action"] == "delivered" and t["reason"] == "seen on the worker page" for t in detail["timeline"])

    # The live feed carried each event as it arrived.
    stop_listening.set()
    listener.join(5)
    feed_events = [m for m in feed_messages if m.get("type") == "event" and m["event"]["state"] == "opened"]
    assert {m["event"]["violation_id"] for m in feed_events} == {str(e.violation_id) for e in opened}
    assert {m["event"]["violation_id"] for m in feed_events if m["case_opened"]} == {c["violation_id"] for c in cases}

    # Acknowledge and resolve; another worker may not act on this case.
    first = cases[-1]["id"]
    other = api_client(dispatcher, "w-018")
    assert other.post(f"/api/v1/cases/{first}/acknowledge").status_code == 403
    assert worker.post(f"/api/v1/cases/{first}/acknowledge").json()["state"] == "accepted"
    resolved = worker.post(f"/api/v1/cases/{first}/resolve", json={"note": "moved"}).json()
    assert resolved["state"] == "handled" and resolved["handling_note"] == "moved"
    assert worker.post(f"/api/v1/cases/{first}/acknowledge").status_code == 409

    # QoS 1 redelivery of the same event is one event: no second case.
    stats = api.get("/healthz").json()
    host, port = mosquitto.url.removeprefix("mqtt://").split(":")
    mqtt_publish.single(opened[0].topic(), opened[0].model_dump_json(), qos=1, hostname=host, port=int(port))
    wait_for(lambda: api.get("/healthz").json()["duplicates"] == stats["duplicates"] + 1, 10, "duplicate counted")
    assert len(api.get("/api/v1/cases").json()) == len(cases)
    for client in (api, worker, other):
        client.close()
