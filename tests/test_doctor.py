"""`gridpatrol doctor`: a good edge or dispatcher config passes every check; each kind of
failure is named, with what to do, and the exit code says so. Against a real broker (with
users and the example ACL where credentials matter), a real dispatcher, PostgreSQL, the
shared model and clip."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from builders import PEOPLE, SeaweedS3

from contract import EdgeState, EdgeStatus, edge_status_topic
from gridpatrol.broker import LocalBroker, free_port
from gridpatrol.cli import main
from gridpatrol.demo import DispatcherThread
from gridpatrol.doctor import report
from i18n import translator


def edge_config(tmp_path: Path, shared: Path, broker_url: str, **overrides: Any) -> Path:
    """An edge config on the shared clip and model; ``overrides`` replace top-level keys."""
    data: dict[str, Any] = {
        "edge_id": "box-01",
        "model": {"path": str(shared / "models/yolo11n-coco-int8-320.onnx")},
        "mqtt": {"url": broker_url},
        "evidence": {"dir": str(tmp_path / "evidence")},
        "cameras": [{"id": "cam-001", "url": str(shared / "media/clips/carpark-320x240.mp4"), "sample_fps": 0.5,
                     "zones": [{"id": "z1", "kind": "parked_bike", "polygon": [[0, 0.5], [1, 0.5], [1, 1], [0, 1]],
                                "classes": ["bicycle", "car"], "dwell_s": 60, "micro_grid": "mg-017"}]}],
    }
    data.update(overrides)
    path = tmp_path / "edge.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def doctor(path: Path, lang: str = "en") -> tuple[int, list[str]]:
    lines: list[str] = []
    return report(path, translator(lang), lines.append), lines


def line(lines: list[str], name: str) -> str:
    found = [i for i, text in enumerate(lines) if text[2:].startswith(name)]
    assert found, (name, lines)
    return "\n".join(lines[found[0]:found[0] + 2])


def test_a_good_config_passes_every_check(tmp_path: Path, shared: Path, dispatcher: DispatcherThread,
                                          mosquitto: LocalBroker) -> None:
    token = dispatcher.services.auth.issue_machine("box-01", "edge").token
    path = edge_config(tmp_path, shared, mosquitto.url,
                       evidence={"dir": str(tmp_path / "evidence"), "upload_url": f"{dispatcher.url}/api/v1/evidence",
                                 "upload_token": token})
    code, lines = doctor(path)
    assert code == 0, lines
    checks = [text for text in lines if not text.startswith("    →")]
    assert [text[0] for text in checks] == ["✓", "–", "✓", "✓", "✓", "✓", "✓"], lines
    # the shared model is quantized dynamically: worth knowing on the CPU, not a failure
    assert "classes cover every zone" in line(lines, "model") and "models/quantize.py" in line(lines, "model")
    assert "320x240 at 25.0 fps, a keyframe every 2.0 s; at 0.5 samples/s only keyframes are decoded" in \
        line(lines, "camera")
    assert "takes the box's token" in line(lines, "dispatcher") and "within 5 s" in line(lines, "clock")
    chinese = [text for text in doctor(path, "zh-CN")[1] if not text.startswith("    →")]
    assert chinese[0].startswith("✓ 配置") and all("✓" in text for text in chinese[2:]), chinese
    assert chinese[1].startswith("– 模型"), chinese


def test_each_failure_is_named_with_what_to_do(tmp_path: Path, shared: Path, dispatcher: DispatcherThread,
                                               mosquitto: LocalBroker) -> None:
    bad_key = edge_config(tmp_path, shared, mosquitto.url, cameras=[{"id": "cam-001", "url": "x.mp4", "zones": []}])
    code, lines = doctor(bad_key)
    assert code == 1 and len(lines) == 2 and lines[0].startswith("✗ config") and "cameras[0].zones" in lines[0]

    cases = {
        "model": ({"model": {"path": str(tmp_path / "none.onnx")}}, "check model.path"),
        "camera cam-001 stream": ({"cameras": [{"id": "cam-001", "url": str(tmp_path / "gone.mp4"), "zones": [
            {"id": "z1", "kind": "parked_bike", "polygon": [[0, 0], [1, 0], [1, 1]], "classes": ["car"],
             "dwell_s": 60, "micro_grid": "mg-017"}]}]}, "check the URL"),
        "broker": ({"mqtt": {"url": f"mqtt://127.0.0.1:{free_port()}"}}, "start the broker or correct mqtt.url"),
        "dispatcher": ({"evidence": {"dir": str(tmp_path / "ev"), "upload_url": f"{dispatcher.url}/api/v1/evidence",
                                     "upload_token": "not-a-token"}}, "gridpatrol dispatcher token"),
        "disk": ({"evidence": {"dir": str(tmp_path / "ev"), "min_free_mb": 10_000_000}}, "free disk space"),
    }
    for name, (overrides, hint) in cases.items():
        code, lines = doctor(edge_config(tmp_path, shared, mosquitto.url, **overrides))
        assert code == 1, (name, lines)
        failed = [text for text in lines if text.startswith("✗")]
        assert len(failed) == 1 and failed[0][2:].startswith(name), (name, lines)
        assert hint in line(lines, name), (name, lines)
    unknown_class = {"cameras": [{"id": "cam-001", "url": str(shared / "media/clips/carpark-320x240.mp4"), "zones": [
        {"id": "z1", "kind": "parked_bike", "polygon": [[0, 0], [1, 0], [1, 1]], "classes": ["e-bike"],
         "dwell_s": 60, "micro_grid": "mg-017"}]}]}
    code, lines = doctor(edge_config(tmp_path, shared, mosquitto.url, **unknown_class))
    assert code == 1 and "classes ['e-bike'] are not among the model's classes" in line(lines, "model")
    assert main(["doctor", "--config", str(bad_key), "--lang", "en"]) == 1


def test_the_brokers_users_and_acl(tmp_path: Path, shared: Path, secured_broker: LocalBroker) -> None:
    good = {"url": secured_broker.url, "username": "box-01", "password": PEOPLE["box-01"]}
    assert doctor(edge_config(tmp_path, shared, secured_broker.url, mqtt=good))[0] == 0
    code, lines = doctor(edge_config(tmp_path, shared, secured_broker.url, mqtt={**good, "password": "wrong"}))
    assert code == 1 and "refused the box" in line(lines, "broker") and "mqtt.password" in line(lines, "broker")
    # box-01's credentials on a box that says it is box-02: the ACL keeps it to its own topics
    code, lines = doctor(edge_config(tmp_path, shared, secured_broker.url, mqtt=good, edge_id="box-02"))
    assert code == 1 and "does not let box-02 publish" in line(lines, "broker"), lines


class SkewedClock(BaseHTTPRequestHandler):
    """A dispatcher stand-in whose clock is ten minutes fast: it knows no evidence (404)."""

    def do_GET(self) -> None:
        self.send_response(404)
        self.send_header("content-length", "0")
        self.end_headers()

    def date_time_string(self, timestamp: float | None = None) -> str:
        return format_datetime(datetime.now(UTC) + timedelta(minutes=10), usegmt=True)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def skewed_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), SkewedClock)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_a_clock_ten_minutes_off_is_a_failure(tmp_path: Path, shared: Path, mosquitto: LocalBroker,
                                              skewed_server: str) -> None:
    path = edge_config(tmp_path, shared, mosquitto.url,
                       evidence={"dir": str(tmp_path / "ev"), "upload_url": f"{skewed_server}/api/v1/evidence"})
    code, lines = doctor(path)
    # the HTTP Date has whole seconds: ten minutes fast reads as 599 to 601 s
    assert code == 1 and re.search(r"clock is -(599|600|601) s off the dispatcher's", line(lines, "clock"))
    assert "NTP" in line(lines, "clock")


def dispatcher_file(tmp_path: Path, database: str, broker_url: str, **overrides: Any) -> Path:
    """A dispatcher config on the project's grid file, the dispatcher's broker user, a public URL."""
    data: dict[str, Any] = {
        "database_url": database,
        "data_dir": str(tmp_path / "dispatcher"),
        "grid_file": str(Path(__file__).resolve().parents[1] / "configs/grid.yaml"),
        "mqtt": {"url": broker_url, "username": "dispatcher", "password": PEOPLE["dispatcher"]},
        "ingest": {"shared_group": "dispatchers"},
        "http": {"public_url": "https://grid.example.cn"},
        "channels": {"webhooks": {"ops": {"url": "https://ops.example.cn/gridpatrol", "secret": "s" * 16}}},
    }
    data.update(overrides)
    path = tmp_path / "dispatcher.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def box_online(broker: LocalBroker) -> None:
    """box-02 announces itself as an edge box does: its status, retained."""
    from paho.mqtt import publish

    status = EdgeStatus(edge_id="box-02", state=EdgeState.online).model_dump_json()
    publish.single(edge_status_topic("box-02"), status, qos=1, retain=True, hostname="127.0.0.1", port=broker.port,
                   auth={"username": "box-02", "password": PEOPLE["box-02"]})


def test_a_good_dispatcher_config_passes_every_check(tmp_path: Path, pg_database: str,
                                                     secured_broker: LocalBroker, seaweedfs: SeaweedS3) -> None:
    box_online(secured_broker)
    path = dispatcher_file(tmp_path, pg_database, secured_broker.url, evidence_s3=seaweedfs.store_config("ready-check"))
    code, lines = doctor(path)
    assert code == 0, lines
    assert [text[0] for text in lines] == ["✓"] * 9, lines
    assert f"bucket ready-check at {seaweedfs.url} answers" in line(lines, "evidence store")
    assert "empty: the tables are made at start" in line(lines, "database")
    assert "micro-grids" in line(lines, "grid")
    assert "it reads the status of 1 boxes" in line(lines, "broker")
    assert "within 5 s of the database server's" in line(lines, "clock")
    from dispatcher.db.engine import make_engine, make_sessions

    engine = make_engine(pg_database)
    make_sessions(engine)  # the schema at its newest revision, as a dispatcher leaves it
    engine.dispose()
    code, lines = doctor(path, "zh-CN")
    assert code == 0 and lines[0].startswith("✓ 配置") and all(text.startswith("✓") for text in lines), lines
    assert main(["doctor", "--config", str(path), "--lang", "en"]) == 0


def test_each_dispatcher_failure_is_named_with_what_to_do(tmp_path: Path, pg_database: str,
                                                          secured_broker: LocalBroker) -> None:
    bad_key = dispatcher_file(tmp_path, pg_database, secured_broker.url, escalation={"poll_s": -1})
    code, lines = doctor(bad_key)
    assert code == 1 and len(lines) == 2 and "escalation.poll_s" in lines[0], lines

    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    good_mqtt = {"url": secured_broker.url, "username": "dispatcher", "password": PEOPLE["dispatcher"]}
    cases = {
        "database": ({"database_url": f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none"},
                     "start the database"),
        "grid": ({"grid_file": str(tmp_path / "no-grid.yaml")}, "correct grid_file"),
        "broker": ({"mqtt": {**good_mqtt, "password": "wrong"}}, "mqtt.password"),
        "outbound": ({"channels": {"sms": {"url": "http://10.20.0.5/send"}}}, "outbound.allow_networks"),
        "data folder": ({"data_dir": str(blocker / "dispatcher")}, "make data_dir writable"),
        "links": ({"http": {"host": "127.0.0.1", "port": 8080}}, "set http.public_url"),
        "evidence store": ({"evidence_s3": {"endpoint_url": f"http://127.0.0.1:{free_port()}", "bucket": "evidence",
                                            "access_key_id": "k", "secret_access_key": "s", "timeout_s": 1}},
                           "start the store"),
    }
    for name, (overrides, hint) in cases.items():
        code, lines = doctor(dispatcher_file(tmp_path, pg_database, secured_broker.url, **overrides))
        assert code == 1, (name, lines)
        failed = [text for text in lines if text.startswith("✗")]
        assert len(failed) == 1 and failed[0][2:].startswith(name), (name, lines)
        assert hint in line(lines, name), (name, lines)

    # a box's user in the dispatcher's place: the ACL lets it read nothing of box-02's
    box_online(secured_broker)
    code, lines = doctor(dispatcher_file(tmp_path, pg_database, secured_broker.url,
                                         mqtt={**good_mqtt, "username": "box-01", "password": PEOPLE["box-01"]}))
    assert code == 0 and line(lines, "broker").startswith("– broker") and "no box's status" in line(lines, "broker")

    # a database left by a newer dispatcher
    with psycopg.connect(pg_database.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)")
        conn.execute("INSERT INTO alembic_version VALUES ('f00dcafe0001')")
    code, lines = doctor(dispatcher_file(tmp_path, pg_database, secured_broker.url))
    assert code == 1 and "schema f00dcafe0001, newer than this dispatcher knows" in line(lines, "database"), lines

    neither = tmp_path / "other.yaml"
    neither.write_text("colour: blue\n")
    code, lines = doctor(neither)
    assert code == 1 and "neither an edge config" in lines[0] and "--kind" in lines[1]
