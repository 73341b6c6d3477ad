"""A town of two dispatchers and two boxes, shown together: PostgreSQL, Mosquitto with users and
the example ACL, one SeaweedFS bucket; two dispatchers on a shared subscription; two edge boxes,
each with its own config file in its own folder. A case a box reported (its images uploaded
through dispatcher B) is read and its images served through dispatcher A, and pushed to the
worker's phone that subscribed through A; a zone edited through A while box 2 was off reaches
box 2 when it starts."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import yaml
from builders import PEOPLE, SeaweedS3, api_client, dispatcher_config, wait_for
from push_service import PushEndpoint, verify_vapid

from edge.config import load_edge_config
from edge.runner import EdgeRunner
from gridpatrol.broker import LocalBroker
from gridpatrol.demo import DispatcherThread


def town_file(path: Path, shared: Path, project_root: Path) -> Path:
    """The dispatchers' copy of the town config: cam-1 on box-01, cam-2 on box-02."""
    camera = yaml.safe_load((project_root / "configs/carpark.yaml").read_text())["cameras"][0]
    camera["url"] = str(shared / "media/clips/carpark-320x240.mp4")
    document = {"edge_id": "town", "model": {"path": str(shared / "models/yolo11n-coco-int8-320.onnx")},
                "cameras": [{**camera, "id": "cam-1", "edge": "box-01"}, {**camera, "id": "cam-2", "edge": "box-02"}]}
    path.write_text(yaml.safe_dump(document, allow_unicode=True))
    return path


def box_file(folder: Path, box: str, town: Path, broker: LocalBroker, upload_url: str, token: str) -> Path:
    """A box's own config, in its own folder: the town file as it was installed, its credentials."""
    folder.mkdir(parents=True)
    document = yaml.safe_load(town.read_text())
    document["mqtt"] = {"url": broker.url, "username": box, "password": PEOPLE[box]}
    document["evidence"] = {"dir": str(folder / "evidence"), "upload_url": upload_url, "upload_token": token}
    document["outbox"] = {"path": str(folder / "outbox.sqlite")}
    path = folder / "box.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True))
    return path


def test_two_dispatchers_and_two_boxes_act_as_one_town(
        tmp_path: Path, shared: Path, project_root: Path, secured_broker: LocalBroker, pg_database: str,
        seaweedfs: SeaweedS3, push_endpoint: PushEndpoint) -> None:
    (tmp_path / "dispatchers").mkdir()
    town = town_file(tmp_path / "dispatchers" / "town.yaml", shared, project_root)
    dispatchers = [DispatcherThread(dispatcher_config(
        tmp_path / name, secured_broker.url, database_url=pg_database, data_dir=tmp_path / name / "data",
        evidence_s3=seaweedfs.store_config(), edge_config=town,
        mqtt={"url": secured_broker.url, "username": "dispatcher", "password": PEOPLE["dispatcher"]},
        ingest={"client_id": f"dispatcher-{name}", "shared_group": "dispatchers"})) for name in ("a", "b")]
    for thread in dispatchers:
        thread.start()
    a, b = dispatchers
    boxes: list[EdgeRunner] = []
    try:
        # the worker's phone subscribes through A
        worker_a = api_client(a, "w-017")
        key = worker_a.get("/api/v1/push/vapid-public-key").json()["application_server_key"]
        subscribed = worker_a.post("/api/v1/people/w-017/push-subscriptions", json=push_endpoint.subscription)
        assert subscribed.status_code == 201

        # the boxes installed: box 1 uploads its evidence through B, box 2 through A
        files = [box_file(tmp_path / "box1", "box-01", town, secured_broker, f"{b.url}/api/v1/evidence",
                          b.services.auth.issue_machine("box-01", "edge").token),
                 box_file(tmp_path / "box2", "box-02", town, secured_broker, f"{a.url}/api/v1/evidence",
                          a.services.auth.issue_machine("box-02", "edge").token)]
        first = EdgeRunner(load_edge_config(files[0]).for_box("box-01"), speed=4.0)
        boxes.append(first)
        first.start()

        # box 2 is off while its zone is edited through A's console
        staff_a = api_client(a)
        zones = staff_a.get("/api/v1/zones/cam-2").json()["zones"]
        saved = staff_a.put("/api/v1/zones/cam-2", json={"zones": [{**zones[0], "dwell_s": 4}]}).json()
        assert saved["edge_id"] == "box-02" and saved["pushed_version"]

        first.wait()
        opened = wait_for(lambda: staff_a.get("/api/v1/cases").json() or None, 30, "cases of box 1")
        cases = wait_for(lambda: (lambda c: c if len(c) >= 6 else None)(staff_a.get("/api/v1/cases").json()), 30,
                         "box 1's cases stored")
        assert opened and {c["camera_id"] for c in cases} == {"cam-1"}
        stored = [a.services.ingest.stats.stored, b.services.ingest.stats.stored]
        assert sum(stored) >= len(cases) and min(stored) > 0, stored  # the shared subscription used both
        wait_for(lambda: first.publisher.outbox.owed_count() == 0 and first.outbox.depth() == 0, 30, "box 1 drained")
        for case in cases:  # read through A, the images uploaded through B, served from the bucket
            image = httpx.get(case["snapshot_url"])
            assert case["snapshot_url"].startswith(a.url) and image.status_code == 200
            assert hashlib.sha256(image.content).hexdigest() == case["snapshot_sha256"]
        pushes = wait_for(lambda: push_endpoint.received if len(push_endpoint.received) >= len(cases) else None, 30,
                          "a push per case")
        for headers, body in pushes:  # whichever dispatcher sent it, with the key the phone took from A
            verify_vapid(headers, key, push_endpoint.subscription["endpoint"].split("/push")[0])
            assert push_endpoint.decrypt(body)["case_id"] in {c["id"] for c in cases}

        # box 2 starts with its file as installed: it takes the zones pushed while it was off
        second = EdgeRunner(load_edge_config(files[1]).for_box("box-02"), speed=4.0)
        boxes.append(second)
        second.start()
        staff_b = api_client(b)
        wait_for(lambda: any(c["camera_id"] == "cam-2" and c["zones_running"] == saved["pushed_version"]
                             for c in staff_b.get("/api/v1/cameras").json()["cameras"]), 30,
                 "box 2 running the zones edited while it was off, as B sees it")
        wait_for(lambda: second.workers[0].camera.zones[0].dwell_s == 4, 15, "cam-2 on the pushed zones")
        assert yaml.safe_load(files[1].read_text())["cameras"][1]["zones"][0]["dwell_s"] == 5  # its file untouched
    finally:
        for box in boxes:
            box.stop(flush_timeout_s=2)
        for thread in dispatchers:
            thread.stop()
