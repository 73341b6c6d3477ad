"""Faults with real processes: dispatchers (`gridpatrol dispatcher serve`) on an MQTT v5
shared subscription of the test's own Mosquitto, over one PostgreSQL database; one of them is
killed with SIGKILL in the middle of the stream and started again."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
import pytest
import yaml
from builders import CuttableLink, publish_event, sample_event, wait_for
from paho.mqtt.enums import CallbackAPIVersion

from contract import EventState, event_id_for, violation_id_for
from gridpatrol.broker import LocalBroker, free_port, wait_port
from gridpatrol.data import PROJECT_ROOT
from gridpatrol.demo import DispatcherThread

ACCEPT_S = 4.0  # each case escalates when not accepted within this


@pytest.fixture
def town_db(postgres_admin: str) -> Iterator[str]:
    """A fresh PostgreSQL database (a plain libpq URL) that the dispatchers share."""
    name = f"gridpatrol_faults_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield postgres_admin.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(postgres_admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class DispatcherProcess:
    """One `gridpatrol dispatcher serve` with its own MQTT client id (so its own persistent
    session) in the shared group."""

    def __init__(self, tmp_path: Path, n: int, broker_url: str, db_url: str) -> None:
        self.port = free_port()
        policy = {"accept_within_min": ACCEPT_S / 60, "handle_within_min": 600, "clock": "plain"}
        config = {
            "database_url": db_url.replace("postgresql://", "postgresql+psycopg://", 1),
            "data_dir": str(tmp_path / f"dispatcher-{n}"), "grid_file": str(PROJECT_ROOT / "configs/grid.yaml"),
            "mqtt": {"url": broker_url},
            "ingest": {"shared_group": "dispatchers", "client_id": f"gridpatrol-dispatcher-{n}", "batch_size": 50},
            "escalation": {"poll_s": 0.2, "instance_id": f"dispatcher-{n}",
                           "policies": {"parked_bike": policy, "cross_door_trading": policy}},
            "http": {"host": "127.0.0.1", "port": self.port},
        }
        self.path = tmp_path / f"dispatcher-{n}.yaml"
        self.path.write_text(yaml.safe_dump(config))
        self.log = tmp_path / f"dispatcher-{n}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> DispatcherProcess:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "gridpatrol.cli", "dispatcher", "serve",
                                          "--config", str(self.path)], cwd=PROJECT_ROOT, stdout=log, stderr=log)
        assert wait_port(self.port, 30), self.log.read_text()[-2000:]
        return self

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(15)


def violation_events(count: int) -> list[dict]:
    """``count`` violations, each on its own camera (so none joins another's case)."""
    start = datetime.now(UTC).replace(microsecond=0)
    events = []
    for n in range(count):
        camera = f"cam-{n:04d}"
        vid = violation_id_for("box-01", camera, "z1", n, start)
        events.append(sample_event(violation_id=str(vid), event_id=str(event_id_for(vid, EventState.opened)),
                                   camera_id=camera, started_at=start.isoformat(),
                                   observed_at=(start + timedelta(seconds=120)).isoformat()))
    return events


def rows(db: str, query: str) -> list[tuple]:
    with psycopg.connect(db) as conn:
        return conn.execute(query).fetchall()


def test_a_dispatcher_killed_mid_stream_loses_nothing_and_counts_nothing_twice(
        tmp_path: Path, mosquitto: LocalBroker, town_db: str) -> None:
    dispatchers = [DispatcherProcess(tmp_path, n, mosquitto.url, town_db).start() for n in range(2)]
    try:
        time.sleep(1.0)  # both subscribed to the shared group
        events = violation_events(400)
        host, port = mosquitto.url.removeprefix("mqtt://").split(":")
        publisher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-edge", protocol=mqtt.MQTTv5)
        publisher.connect(host, int(port))
        publisher.loop_start()
        sent = []
        for i, event in enumerate(events):
            topic = f"gridpatrol/v1/box-01/{event['camera_id']}/events"
            sent.append(publisher.publish(topic, json.dumps(event), qos=1))
            if i % 10 == 0:  # a retried publish, as an edge box sends after a lost PUBACK
                sent.append(publisher.publish(topic, json.dumps(event), qos=1))
            if i == 150:
                dispatchers[0].kill()  # mid-stream: whatever it held unacknowledged stays in its session
            if i == 300:
                dispatchers[0].start()  # same client id: the broker hands its session back
            time.sleep(0.01)
        for info in sent:
            info.wait_for_publish(10)
        publisher.loop_stop()
        publisher.disconnect()

        def stored() -> bool:
            return rows(town_db, "SELECT count(*) FROM events")[0][0] >= len(events)

        wait_for(stored, 60, "every event stored")
        assert rows(town_db, "SELECT count(*) FROM events")[0][0] == len(events)  # none twice
        per_violation = rows(town_db, "SELECT violation_id, count(*) FROM cases GROUP BY violation_id")
        assert len(per_violation) == len(events) and {c for _, c in per_violation} == {1}  # one case each

        # Every case's accept deadline fires once, on time, whichever dispatcher claims it.
        def escalated() -> list[tuple]:
            found = rows(town_db, "SELECT c.id, c.opened_at, t.at, t.actor_id, t.data FROM case_transitions t "
                                  "JOIN cases c ON c.id = t.case_id WHERE t.action = 'escalate'")
            return found if len({r[0] for r in found}) == len(events) else []

        first = wait_for(escalated, 60, "every case escalated for want of acceptance")
        by_case_level = Counter((case_id, data["level"]) for case_id, _, _, _, data in first)
        assert max(by_case_level.values()) == 1  # no level reached twice: each timer fired once
        assert all(at - opened >= timedelta(seconds=ACCEPT_S - 0.5) for _, opened, at, _, _ in first)  # not early
        (fired, by_timer), = rows(town_db, (  # one statement: one snapshot while escalations go on
            "SELECT (SELECT count(*) FROM timers WHERE fired_at IS NOT NULL AND purpose = 'accept'), "
            "(SELECT count(*) FROM case_transitions WHERE action = 'escalate' AND reason = 'not accepted in time')"))
        assert fired == by_timer >= len(events)  # one escalation per fired timer, none without one
        claimed = rows(town_db, "SELECT DISTINCT fired_by FROM timers WHERE fired_at IS NOT NULL")
        assert {who for (who,) in claimed} <= {"dispatcher-0", "dispatcher-1"}
        log = dispatchers[0].log.read_text()
        assert log.count("Traceback") == 0, log[-3000:]
    finally:
        for dispatcher in dispatchers:
            dispatcher.stop()


def test_the_database_gone_for_a_while_loses_nothing(tmp_path: Path, mosquitto: LocalBroker, town_db: str) -> None:
    """Ingest waits with backoff while PostgreSQL is unreachable, acknowledges nothing it has
    not stored, and stores everything once the database is back."""
    from builders import dispatcher_config

    from dispatcher.ingest import wait_connected

    server = town_db.removeprefix("postgresql://").split("/")[0].split("@")[-1]
    host, _, port = server.partition(":")
    link = CuttableLink((host, int(port or 5432)))
    db_name = town_db.rsplit("/", 1)[1]
    user = town_db.removeprefix("postgresql://").split("@")[0] if "@" in town_db else "postgres"
    thread = DispatcherThread(dispatcher_config(
        tmp_path, mosquitto.url, database_url=f"postgresql+psycopg://{user}@127.0.0.1:{link.port}/{db_name}",
        ingest={"batch_size": 20}, escalation={"poll_s": 0.5}))
    thread.start()
    try:
        assert wait_connected(thread.services.ingest, 10)
        events = violation_events(150)
        broker_host, broker_port = mosquitto.url.removeprefix("mqtt://").split(":")
        publisher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-edge-db", protocol=mqtt.MQTTv5)
        publisher.connect(broker_host, int(broker_port))
        publisher.loop_start()

        def send(batch: list[dict]) -> None:
            for event in batch:
                publisher.publish(f"gridpatrol/v1/box-01/{event['camera_id']}/events", json.dumps(event),
                                  qos=1).wait_for_publish(10)

        def stored() -> int:
            return rows(town_db, "SELECT count(*) FROM events")[0][0]

        send(events[:50])
        wait_for(lambda: stored() == 50, 30, "the first events stored")
        link.sever()
        send(events[50:])  # while the database is away
        wait_for(lambda: "database unavailable" in (thread.services.ingest.stats.last_error or ""), 15,
                 "ingest noticing the database is gone")
        time.sleep(3)
        assert stored() == 50 and thread.services.ingest.stats.stored == 50  # nothing got through, nothing dropped
        link.restore()
        wait_for(lambda: stored() == len(events), 60, "the backlog stored once the database is back")
        per_violation = rows(town_db, "SELECT violation_id, count(*) FROM cases GROUP BY violation_id")
        assert len(per_violation) == len(events) and {c for _, c in per_violation} == {1}
        assert thread.services.ingest.stats.duplicates == 0
        publisher.loop_stop()
        publisher.disconnect()
    finally:
        thread.stop()
        link.close()


def test_the_broker_down_for_60_s_mid_clip_loses_nothing(
        tmp_path: Path, mosquitto: LocalBroker, dispatcher: DispatcherThread, shared: Path) -> None:
    """An edge box plays the car-park clip in real time; 15 s in, its broker dies (SIGKILL)
    for 60 s while the box goes on deciding, then comes back on the same port with its saved
    sessions. Every event the box decided reaches the dispatcher once, and every violation
    is on exactly one case."""
    from builders import api_client

    from contract import EventState, ViolationEvent
    from edge.config import load_edge_config
    from edge.runner import EdgeRunner

    config = load_edge_config(PROJECT_ROOT / "configs/carpark.yaml")
    config = config.model_copy(update={
        "model": config.model.model_copy(update={"path": shared / "models/yolo11n-coco-int8-320.onnx"}),
        "mqtt": config.mqtt.model_copy(update={"url": mosquitto.url}),
        "cameras": [config.cameras[0].model_copy(update={"url": str(shared / "media/clips/carpark-320x240.mp4")})],
        "evidence": config.evidence.model_copy(update={"dir": tmp_path / "edge-evidence"}),
        "outbox": config.outbox.model_copy(update={"path": tmp_path / "outbox.sqlite"}),
    })
    decided: list[ViolationEvent] = []
    runner = EdgeRunner(config, speed=1.0, on_event=decided.append)
    ingest = dispatcher.services.ingest
    restarted: LocalBroker | None = None
    runner.start()
    try:
        wait_for(lambda: ingest.stats.stored >= 1, 30, "a first event through the broker")
        time.sleep(max(0.0, 15.0 - (time.monotonic() - runner.workers[0].started)))
        before = len(decided)
        mosquitto.kill()
        time.sleep(60)
        during = len(decided) - before
        assert during >= 1 and runner.outbox.depth() >= 1  # decided meanwhile, kept on the box's disk
        restarted = LocalBroker(port=mosquitto.port, persistence_dir=mosquitto.persistence_dir).start()
        runner.wait()  # the clip (73 s) ends
        assert runner.publisher.flush(30), "the outbox did not drain after the broker came back"
        wait_for(lambda: ingest.stats.stored >= len(decided), 30, f"all {len(decided)} events stored")
        time.sleep(1.0)
        with dispatcher.services.cases.sessions() as session:
            from sqlalchemy import select

            from dispatcher.db import EventRow

            stored_ids = sorted(session.scalars(select(EventRow.event_id)).all())
        assert stored_ids == sorted(str(e.event_id) for e in decided)  # each one, once
        api = api_client(dispatcher)
        cases = api.get("/api/v1/cases").json()
        timelines = [api.get(f"/api/v1/cases/{c['id']}").json()["timeline"] for c in cases]
        joined = [t["data"]["violation_id"] for tl in timelines for t in tl if t["action"] == "join"]
        opened = [str(e.violation_id) for e in decided if e.state is EventState.opened]
        assert sorted([c["violation_id"] for c in cases] + joined) == sorted(opened)
        print(f"broker outage: {len(decided)} events decided, {during} during the 60 s outage, "
              f"{len(stored_ids)} stored, {len(cases)} cases, {ingest.stats.duplicates} redelivered duplicates")
    finally:
        runner.stop(flush_timeout_s=5)
        if restarted is not None:
            restarted.stop()


def test_a_deadline_that_falls_while_the_only_dispatcher_is_down_fires_once_after_its_restart(
        tmp_path: Path, mosquitto: LocalBroker, town_db: str) -> None:
    dispatcher = DispatcherProcess(tmp_path, 0, mosquitto.url, town_db).start()
    try:
        time.sleep(1.0)
        event = violation_events(1)[0]
        publish_event(mosquitto, event, f"gridpatrol/v1/box-01/{event['camera_id']}/events")
        wait_for(lambda: rows(town_db, "SELECT count(*) FROM cases")[0][0] == 1, 30, "the case opened")
        dispatcher.kill()  # before the accept deadline (ACCEPT_S)
        time.sleep(ACCEPT_S + 2)  # the deadline passes while nobody runs
        (due, fired), = rows(town_db, "SELECT due_at, fired_at FROM timers WHERE purpose = 'accept'")
        assert fired is None and due < datetime.now(UTC)
        dispatcher.start()
        escalations = wait_for(lambda: rows(town_db, "SELECT at, data FROM case_transitions "
                                                     "WHERE action = 'escalate'"), 30, "the overdue escalation")
        time.sleep(2.0)  # several polls later: still one
        to_stand_in = rows(town_db, "SELECT actor_id FROM case_transitions WHERE action = 'escalate' "
                                    "AND data->>'assignee_id' = 'w-019'")  # mg-017's stand-in, first in line
        assert len(to_stand_in) == 1
        assert escalations[0][0] > due
        print(f"escalated {(escalations[0][0] - due).total_seconds():.1f} s after its deadline "
              "(the dispatcher was down for it)")
    finally:
        dispatcher.stop()
