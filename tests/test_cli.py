"""The `gridpatrol` command's two long-running jobs as real processes: `dispatcher serve` and
`edge run`."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import paho.mqtt.subscribe as mqtt_subscribe
import yaml
from builders import api_client, dispatcher_config, publish_event, sample_event

from contract import EdgeStatus
from gridpatrol.broker import LocalBroker, free_port, wait_port
from gridpatrol.data import PROJECT_ROOT
from gridpatrol.demo import DispatcherThread

ROOT = PROJECT_ROOT


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

