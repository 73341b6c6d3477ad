"""Health that means something: the dispatcher's /healthz says 503 with the part that failed
when its PostgreSQL goes away (through a relay the test cuts) or its broker dies, and ok when
they are back; an edge box's /healthz (beside /metrics) says the same of its broker, its
cameras and its outbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import yaml
from builders import CuttableLink, dispatcher_config, wait_for

from edge.config import load_edge_config
from edge.runner import EdgeRunner
from gridpatrol.broker import LocalBroker
from gridpatrol.demo import DispatcherThread


@pytest.fixture
def relayed_database(pg_database: str) -> Iterator[tuple[str, CuttableLink]]:
    """A fresh PostgreSQL database reached through a relay the test can cut."""
    parts = urlsplit(pg_database)
    relay = CuttableLink((parts.hostname or "127.0.0.1", parts.port or 5432))
    yield parts._replace(netloc=f"{parts.username}@127.0.0.1:{relay.port}").geturl(), relay
    relay.close()


def test_the_dispatcher_says_503_with_the_part_that_failed(tmp_path: Path, mosquitto: LocalBroker,
                                                           relayed_database: tuple[str, CuttableLink]) -> None:
    url, relay = relayed_database
    thread = DispatcherThread(dispatcher_config(tmp_path, mosquitto.url, database_url=url))
    thread.start()
    try:
        health = wait_for(lambda: (lambda r: r if r.status_code == 200 else None)(
            httpx.get(f"{thread.url}/healthz", timeout=10)), 15, "healthy")
        assert health.json()["status"] == "ok" and health.json()["problems"] == []

        relay.sever()
        down = httpx.get(f"{thread.url}/healthz", timeout=15)
        assert down.status_code == 503 and down.json()["problems"] == ["database: not reachable"]
        # no error text (addresses, users) on a public route: the log has it
        assert down.json()["status"] == "unavailable" and "127.0.0.1" not in down.text
        relay.restore()
        wait_for(lambda: httpx.get(f"{thread.url}/healthz", timeout=15).status_code == 200, 20, "database back")

        mosquitto.kill()
        gone = wait_for(lambda: (lambda r: r if r.status_code == 503 else None)(
            httpx.get(f"{thread.url}/healthz", timeout=15)), 20, "broker noticed gone")
        assert gone.json()["problems"] == ["broker: not connected"] and not gone.json()["mqtt_connected"]
    finally:
        thread.stop()


def test_an_edge_box_says_503_without_its_broker_or_cameras(tmp_path: Path, shared: Path, project_root: Path,
                                                             mosquitto: LocalBroker) -> None:
    document = yaml.safe_load((project_root / "configs/carpark.yaml").read_text())
    document["model"]["path"] = str(shared / "models/yolo11n-coco-int8-320.onnx")
    document["mqtt"] = {"url": mosquitto.url}
    document["cameras"][0]["url"] = str(shared / "media/clips/carpark-320x240.mp4")
    document["cameras"][0]["loop"] = True  # a camera that stays online
    document["evidence"] = {"dir": str(tmp_path / "evidence")}
    document["outbox"] = {"path": str(tmp_path / "outbox.sqlite"), "max_healthy": 1000}
    document["metrics"] = {"host": "127.0.0.1", "port": 0}
    path = tmp_path / "box.yaml"
    path.write_text(yaml.safe_dump(document))
    runner = EdgeRunner(load_edge_config(path), speed=1.0)
    runner.start()
    try:
        base = f"http://127.0.0.1:{runner.metrics_server.server_port}"
        ok = wait_for(lambda: (lambda r: r if r.status_code == 200 else None)(httpx.get(f"{base}/healthz")), 20,
                      "the box healthy")
        assert ok.json() == {"status": "ok", "problems": [], "broker_connected": True,
                             "cameras": {"enabled": 1, "online": 1}, "outbox_depth": ok.json()["outbox_depth"]}
        assert "gridpatrol_edge_frames_decoded_total" in httpx.get(f"{base}/metrics").text  # metrics as before

        mosquitto.kill()
        down = wait_for(lambda: (lambda r: r if r.status_code == 503 else None)(httpx.get(f"{base}/healthz")), 20,
                        "the broker's loss seen")
        assert down.json()["problems"] == ["broker: not connected"] and down.json()["cameras"]["online"] == 1
    finally:
        runner.stop(flush_timeout_s=1)
