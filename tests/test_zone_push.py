"""Zones pushed to boxes over MQTT, no shared file system: the dispatcher (its own copy of the
town config) saves a camera's zones while the box is off; the box (its own config file) gets
them when it connects, runs them and says which version; a version it cannot run (a class its
model lacks) is refused, the reason shown on the camera board. Real Mosquitto with users and
the example ACL, headless Chromium for the board."""

from __future__ import annotations

from pathlib import Path

import yaml
from builders import PEOPLE, api_client, dispatcher_config, wait_for
from pages import SHOTS, open_console

from edge.config import load_edge_config
from edge.runner import EdgeRunner
from gridpatrol.broker import LocalBroker
from gridpatrol.demo import DispatcherThread


def box_config(path: Path, tmp_path: Path, shared: Path, project_root: Path, broker: LocalBroker) -> Path:
    document = yaml.safe_load((project_root / "configs/carpark.yaml").read_text())
    document["edge_id"] = "box-01"
    document["model"]["path"] = str(shared / "models/yolo11n-coco-int8-320.onnx")
    document["mqtt"] = {"url": broker.url, "username": "box-01", "password": PEOPLE["box-01"]}
    document["cameras"][0]["url"] = str(shared / "media/clips/carpark-320x240.mp4")
    document["cameras"][0]["loop"] = True
    document["evidence"] = {"dir": str(tmp_path / "evidence")}
    document["outbox"] = {"path": str(tmp_path / "outbox.sqlite")}
    path.write_text(yaml.safe_dump(document))
    return path


def test_zones_saved_while_the_box_is_off_reach_it_when_it_connects(
        tmp_path: Path, shared: Path, project_root: Path, secured_broker: LocalBroker, browser) -> None:
    town = box_config(tmp_path / "town.yaml", tmp_path, shared, project_root, secured_broker)  # the dispatcher's copy
    box_file = box_config(tmp_path / "box.yaml", tmp_path, shared, project_root, secured_broker)  # the box's own
    thread = DispatcherThread(dispatcher_config(
        tmp_path, secured_broker.url, edge_config=town,
        mqtt={"url": secured_broker.url, "username": "dispatcher", "password": PEOPLE["dispatcher"]}))
    thread.start()
    runner = None
    try:
        staff = api_client(thread)
        zones = staff.get("/api/v1/zones/cam-carpark").json()["zones"]
        edited = [{**zones[0], "dwell_s": 7}]
        saved = staff.put("/api/v1/zones/cam-carpark", json={"zones": edited}).json()
        assert saved["edge_id"] == "box-01" and saved["push_error"] is None
        first = saved["pushed_version"]

        runner = EdgeRunner(load_edge_config(box_file), speed=1.0)  # the box comes on, its file unchanged
        runner.start()
        camera = wait_for(lambda: next((c for c in staff.get("/api/v1/cameras").json()["cameras"]
                                        if c["camera_id"] == "cam-carpark" and c["zones_running"] == first), None),
                          30, "the box running the pushed zones")
        assert camera["zones_saved"] == first and camera["zones_refused"] is None
        wait_for(lambda: runner.workers[0].camera.zones[0].dwell_s == 7, 15, "the camera on the pushed zones")
        assert load_edge_config(box_file).cameras[0].zones[0].dwell_s == 5  # nothing was written on the box

        # a class the box's model does not know: saved and sent, refused by the box, nothing changes
        refused = staff.put("/api/v1/zones/cam-carpark", json={"zones": [{**edited[0], "classes": ["e-bike"]}]}).json()
        second = refused["pushed_version"]
        assert second > first
        edge = wait_for(lambda: next((e for e in staff.get("/api/v1/cameras").json()["edges"]
                                      if e["edge_id"] == "box-01" and e["zones_refused"]), None), 15, "the refusal")
        assert edge["zones_refused"].startswith(f"{second}: ") and "e-bike" in edge["zones_refused"]
        assert edge["zones_version"] == first and runner.workers[0].camera.zones[0].classes == ["car"]

        console = open_console(browser, thread, "cameras")
        cell = console.wait_for_selector("tr[data-camera='box-01/cam-carpark'] td.zones", timeout=10000)
        assert cell.get_attribute("data-running") == str(first) and cell.get_attribute("data-saved") == str(second)
        assert "e-bike" in cell.get_attribute("title") and cell.query_selector(".refused")
        console.screenshot(path=str(SHOTS / "console-zones-pushed.png"))
    finally:
        if runner is not None:
            runner.stop(flush_timeout_s=2)
        thread.stop()
