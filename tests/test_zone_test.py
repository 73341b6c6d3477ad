"""Trying a zone before saving it: a real edge box plays the car-park clip and keeps its recent
samples; the dispatcher asks it over a real Mosquitto to replay them through a zone as edited;
the console shows what would have opened and cleared, with pictures (headless Chromium)."""

from __future__ import annotations

import base64
import io
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml
from builders import api_client, dispatcher_config, wait_for
from pages import SHOTS, open_console
from PIL import Image

from contract import EventState, ViolationEvent
from edge.config import load_edge_config
from edge.runner import EdgeRunner
from gridpatrol.demo import DispatcherThread

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def town_config(tmp_path: Path, shared: Path, project_root: Path, broker_url: str) -> Path:
    """The car-park camera's config with the shared model and clip, on the test's broker."""
    document = yaml.safe_load((project_root / "configs/carpark.yaml").read_text())
    document["model"]["path"] = str(shared / "models/yolo11n-coco-int8-320.onnx")  # the fast one: 11 opened
    document["mqtt"] = {"url": broker_url}
    document["cameras"][0]["url"] = str(shared / "media/clips/carpark-320x240.mp4")
    document["evidence"] = {"dir": str(tmp_path / "evidence")}
    document["outbox"] = {"path": str(tmp_path / "outbox.sqlite")}
    path = tmp_path / "town.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


def test_a_zone_tried_on_the_boxs_recent_past_finds_what_the_box_found(
        tmp_path: Path, shared: Path, project_root: Path, mosquitto, browser) -> None:
    town = town_config(tmp_path, shared, project_root, mosquitto.url)
    thread = DispatcherThread(dispatcher_config(tmp_path, mosquitto.url, edge_config=town))
    thread.start()
    decided: list[ViolationEvent] = []
    runner = EdgeRunner(load_edge_config(town), speed=0, on_event=decided.append)
    runner.start()
    stopped = False
    try:
        runner.wait()  # the clip is over; the box stays up with its recent samples
        staff = api_client(thread)
        camera = wait_for(lambda: (lambda c: c if c["running_on"] else None)(
            staff.get("/api/v1/zones/cam-carpark").json()), 15, "the box reporting the camera")
        assert camera["running_on"] == "demo-box"
        assert len(camera["classes"]) == 81 and {"car", "bicycle", "stationary_object"} <= set(camera["classes"])
        saved = camera["zones"][0]

        def trial(zone: dict, status: int = 200) -> dict:
            answer = staff.post("/api/v1/zones/cam-carpark/test", json={"zone": zone, "minutes": 10})
            assert answer.status_code == status, answer.text
            return answer.json()

        # the zone as saved: the same violations, at the same moments, as the box decided live
        found = trial(saved)
        live = list(decided)
        assert len([e for e in live if e.state is EventState.opened]) >= 6
        assert [(e["state"], datetime.fromisoformat(e["at"])) for e in found["events"]] == [
            (e.state.value, e.observed_at) for e in live]
        assert found["samples"] >= 140 and found["error"] is None and not found["more"]
        for event in found["events"]:
            assert event["thumbnail"].startswith("data:image/jpeg;base64,")
            picture = Image.open(io.BytesIO(base64.b64decode(event["thumbnail"].split(",", 1)[1])))
            assert picture.format == "JPEG" and picture.width == 240

        # the sky: nothing stands there
        assert trial({**saved, "id": "sky", "polygon": [[0, 0], [1, 0], [1, 0.2], [0, 0.2]]})["events"] == []
        # active on every day but today (the town's day): nothing is enforced in the replayed minutes
        today = DAYS[datetime.now(ZoneInfo("Asia/Shanghai")).weekday()]
        assert trial({**saved, "active": [{"days": [d for d in DAYS if d != today]}]})["events"] == []
        # a class the box's model does not know: the box says so
        refused = trial({**saved, "classes": ["e-bike"]})
        assert refused["events"] == [] and "e-bike" in refused["error"]
        # a zone that would not validate is refused before any box is asked, naming the key
        assert "zone.polygon" in trial({**saved, "polygon": [[0, 0], [1, 1]]}, 422)["detail"]
        assert staff.post("/api/v1/zones/cam-none/test", json={"zone": saved}).status_code in (404, 409)

        # the console: classes from the model's list, active hours, the test with its pictures
        console = open_console(browser, thread, "zones")
        console.wait_for_selector("#z-svg polygon[data-zone='row-a']", timeout=10000)
        assert console.eval_on_selector("[data-zone-index='0'] select[data-key=classes]", "s => s.options.length") == 81
        assert console.eval_on_selector("[data-zone-index='0'] select[data-key=classes]",
                                        "s => [...s.selectedOptions].map(o => o.value)") == ["car"]
        console.click("#z-test")
        console.wait_for_selector(".test-event img", timeout=30000)
        figures = console.query_selector_all("#z-results .test-event")
        assert [f.get_attribute("data-state") for f in figures] == [e["state"] for e in found["events"]]
        summary = console.inner_text("#z-results .test-summary")
        opened = len([e for e in live if e.state is EventState.opened])
        assert f"{opened} 件将立案" in summary and "row-a" in summary, summary
        console.screenshot(path=str(SHOTS / "console-zone-test.png"), full_page=True)

        console.click("[data-zone-index='0'] [data-add=active]")
        console.uncheck("[data-zone-index='0'] [data-window='0'] [data-day=fri]")
        console.fill("[data-zone-index='0'] [data-window='0'] input[data-key=end]", "18:30")
        console.click("#z-save")
        console.wait_for_selector("#z-status:text('已保存')", timeout=10000)
        window = load_edge_config(town).camera("cam-carpark").zones[0].active[0]
        assert (window.days, window.start.isoformat(), window.end.isoformat()) == (
            ["mon", "tue", "wed", "thu"], "08:00:00", "18:30:00")

        runner.stop(flush_timeout_s=5)
        stopped = True
        thread.services.zone_tester.timeout_s = 2.0
        gone = trial(saved, 504)
        assert "demo-box" in gone["detail"]
    finally:
        if not stopped:
            runner.stop(flush_timeout_s=1)
        thread.stop()


def test_the_recent_past_is_bounded_by_age_and_its_pictures_are_protected() -> None:
    import numpy as np

    from edge.detections import Detections
    from edge.recent import RecentSamples

    protected: list[int] = []

    def protect(image: np.ndarray, detections: Detections) -> np.ndarray:
        protected.append(len(detections))
        return np.zeros_like(image)  # stands for pixelation: what is kept must be what protect returned

    recent = RecentSamples(keep_s=60, thumbnail_every_s=5, protect=protect)
    start = datetime(2026, 12, 4, 9, 0, tzinfo=ZoneInfo("UTC"))
    frame = np.full((240, 320, 3), 200, np.uint8)
    person = Detections(np.array([[10, 10, 50, 100]], np.float32), np.array([0.9], np.float32),
                        np.array([0], np.int32))
    for i in range(300):  # 150 s at 2 samples/s
        recent.add(start + timedelta(seconds=i / 2), person, frame)
    kept = recent.samples(start)
    assert kept[0].at == start + timedelta(seconds=89.5) and len(kept) == 121  # the last 60 s
    assert len(recent._thumbnails) <= 13 and len(protected) == 30  # one picture per 5 s, each protected
    picture = Image.open(io.BytesIO(recent.thumbnail(start + timedelta(seconds=149))))
    assert picture.width == 240 and max(picture.convert("L").getextrema()) < 30  # the protected picture


def test_requests_that_cannot_be_run_are_answered_with_the_reason(shared: Path, project_root: Path,
                                                                   tmp_path: Path) -> None:
    import json
    import threading
    import uuid

    from contract.zonetest import ZoneTestAnswer
    from edge.recent import RecentSamples
    from edge.zonetest import ZoneTests

    config = load_edge_config(town_config(tmp_path, shared, project_root, "mqtt://127.0.0.1:1"))
    camera = config.cameras[0]
    answers: list[ZoneTestAnswer] = []
    stop = threading.Event()
    tests = ZoneTests(config, ["person", "car"], lambda cid: (camera, RecentSamples(60)) if cid == camera.id else None,
                      answers.append, stop)
    tests.start()
    try:
        zone = camera.zones[0].model_dump(mode="json")
        tests.submit(b"not json")  # nothing to answer to
        asked = [uuid.uuid4() for _ in range(3)]
        tests.submit(json.dumps({"request_id": str(asked[0]), "camera_id": camera.id,
                                 "zone": {**zone, "polygon": [[0, 0]]}}).encode())
        tests.submit(json.dumps({"request_id": str(asked[1]), "camera_id": "cam-other", "zone": zone}).encode())
        tests.submit(json.dumps({"request_id": str(asked[2]), "camera_id": camera.id, "zone": zone}).encode())
        wait_for(lambda: len(answers) == 3, 10, "three answers")
    finally:
        stop.set()
    by_id = {a.request_id: a for a in answers}
    assert "does not validate" in by_id[asked[0]].error and "polygon" in by_id[asked[0]].error
    assert by_id[asked[1]].error == "camera cam-other is not on this box"
    assert by_id[asked[2]].error == "" and by_id[asked[2]].samples == 0  # nothing kept yet: nothing found
