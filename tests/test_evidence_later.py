"""Evidence never holds events back: with the dispatcher's evidence endpoint unreachable for
60 s (a relay the test cuts in front of it), a box playing the car park decides its events,
every one reaches the dispatcher over the broker meanwhile, and every image arrives once the
endpoint is back. Real Mosquitto, real dispatcher, the shared model and clip."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import httpx
import yaml
from builders import CuttableLink, api_client, wait_for

from contract import EventState, ViolationEvent
from edge.config import load_edge_config
from edge.runner import EdgeRunner
from gridpatrol.broker import LocalBroker
from gridpatrol.demo import DispatcherThread


def test_events_go_while_the_store_is_down_and_their_images_follow(
        tmp_path: Path, shared: Path, project_root: Path, mosquitto: LocalBroker, dispatcher: DispatcherThread) -> None:
    relay = CuttableLink(("127.0.0.1", dispatcher.config.http.port))
    relay.sever()  # the store is down from the start
    began = time.monotonic()
    document = yaml.safe_load((project_root / "configs/carpark.yaml").read_text())
    document["model"]["path"] = str(shared / "models/yolov8n-coco-int8-640.onnx")
    document["mqtt"] = {"url": mosquitto.url}
    document["cameras"][0]["url"] = str(shared / "media/clips/carpark-320x240.mp4")
    document["evidence"] = {"dir": str(tmp_path / "evidence"), "upload_wait_s": 5,
                            "upload_url": f"http://127.0.0.1:{relay.port}/api/v1/evidence",
                            "upload_token": dispatcher.services.auth.issue_machine("box", "edge").token}
    document["outbox"] = {"path": str(tmp_path / "outbox.sqlite")}
    path = tmp_path / "box.yaml"
    path.write_text(yaml.safe_dump(document))
    decided: list[ViolationEvent] = []
    runner = EdgeRunner(load_edge_config(path), speed=2.0, on_event=decided.append)
    staff = api_client(dispatcher)
    runner.start()
    try:
        runner.wait()  # the clip is over (36 s at twice its speed), the store still down
        assert len([e for e in decided if e.state is EventState.opened]) >= 6
        wait_for(lambda: staff.get("/healthz").json()["stored"] >= len(decided), 20,
                 f"all {len(decided)} events stored while the store is down")
        assert time.monotonic() - began < 60, "the store was meant to be down all this while"
        cases = staff.get("/api/v1/cases").json()
        assert cases and all(httpx.get(c["snapshot_url"]).status_code == 404 for c in cases)  # not there yet
        owed = runner.publisher.outbox.owed_count()
        assert owed >= len(cases)

        time.sleep(max(0.0, 60 - (time.monotonic() - began)))
        relay.restore()  # back after 60 s
        wait_for(lambda: runner.publisher.outbox.owed_count() == 0, 60, "the owed images uploaded")
        assert runner.publisher.uploaded_late == owed
        for case in staff.get("/api/v1/cases").json():
            image = httpx.get(case["snapshot_url"])
            assert image.status_code == 200 and hashlib.sha256(image.content).hexdigest() == case["snapshot_sha256"]
            if case["before_url"]:
                assert httpx.get(case["before_url"]).status_code == 200
    finally:
        runner.stop(flush_timeout_s=5)
        relay.close()
