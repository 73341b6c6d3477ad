"""The edge's durable outbox: nothing decided is lost while the broker is away."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
from http_receiver import Receiver
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from prometheus_client.parser import text_string_to_metric_families

from contract import EdgeStatus, edge_status_topic
from contract.mqtt import MqttConfig
from edge.config import EdgeConfig, EvidenceConfig
from edge.outbox import Outbox
from edge.publisher import Publisher
from edge.runner import EdgeRunner
from gridpatrol.broker import LocalBroker


def test_outbox_keeps_order_across_a_restart(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox.sqlite")
    for i in range(5):
        box.put(f"t/{i % 2}", json.dumps({"n": i}).encode())
    box.ack(box.peek(1)[0].seq)
    box.close()
    again = Outbox(tmp_path / "outbox.sqlite")
    assert [json.loads(i.payload)["n"] for i in again.peek()] == [1, 2, 3, 4]
    assert again.depth() == 4


class Collector:
    """A subscriber; with ``persistent`` its session (and queued messages) outlive a disconnect."""

    def __init__(self, url: str, topic: str, client_id: str = "collector", persistent: bool = False) -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self.got = threading.Event()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        self.client.on_message = lambda c, u, m: (self.messages.append((m.topic, m.payload, m.retain)), self.got.set())
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda c, u, mid, rc, p: self.subscribed.set()
        self.client.reconnect_delay_set(0.2, 1)
        props = None
        if persistent:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = 3600
        host, port = url.removeprefix("mqtt://").split(":")
        self.client.connect(host, int(port), clean_start=not persistent, properties=props)
        self.client.loop_start()

    def wait_for(self, count: int, timeout_s: float) -> bool:
        end = time.monotonic() + timeout_s
        while len(self.messages) < count and time.monotonic() < end:
            self.got.wait(0.2)
            self.got.clear()
        return len(self.messages) >= count

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def wait_saved(db: Path, after: float, timeout_s: float = 10.0) -> bool:
    """Mosquitto writes its sessions to disk every second (autosave_interval 1): wait for a
    save that began after ``after``, so a SIGKILL cannot land before the subscription is kept."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if db.exists() and db.stat().st_mtime > after:
            return True
        time.sleep(0.05)
    return False


def test_events_queued_while_the_broker_is_down_all_arrive_in_order(tmp_path: Path, mosquitto: LocalBroker) -> None:
    collector = Collector(mosquitto.url, "gridpatrol/v1/box-9/+/events", "dispatcher-like", persistent=True)
    assert collector.subscribed.wait(10)
    assert wait_saved(mosquitto.persistence_dir / "mosquitto.db", after=time.time() + 0.1), "broker never saved"
    outbox = Outbox(tmp_path / "outbox.sqlite")
    publisher = Publisher("box-9", MqttConfig(url=mosquitto.url), EvidenceConfig(), outbox)
    publisher.start()
    mosquitto.kill()  # the broker dies (SIGKILL) before anything is sent
    payloads = [json.dumps({"n": i}).encode() for i in range(20)]
    for i, payload in enumerate(payloads):
        outbox.put(f"gridpatrol/v1/box-9/cam-{i % 3}/events", payload)
    assert not publisher.flush(2.0) and outbox.depth() == 20  # kept on disk, not dropped
    publisher.stop()
    outbox.close()

    # The broker comes back on the same port with its saved sessions; so does the edge,
    # from the same outbox file (an edge restart in the middle of the outage).
    restarted = LocalBroker(port=mosquitto.port, persistence_dir=mosquitto.persistence_dir).start()
    outbox = Outbox(tmp_path / "outbox.sqlite")
    publisher = Publisher("box-9", MqttConfig(url=mosquitto.url), EvidenceConfig(), outbox)
    try:
        publisher.start()
        assert publisher.flush(30.0), "the outbox did not drain after the broker came back"
        assert collector.wait_for(20, 20.0), f"only {len(collector.messages)} of 20 arrived"
        time.sleep(0.5)
        assert [p for _, p, _ in collector.messages] == payloads  # all, once each, in order
    finally:
        collector.stop()
        publisher.stop()
        restarted.stop()


def test_edge_status_is_retained_with_a_last_will(tmp_path: Path, mosquitto: LocalBroker) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite")
    publisher = Publisher("box-7", MqttConfig(url=mosquitto.url), EvidenceConfig(), outbox)
    publisher.start()
    assert publisher.wait_connected(10)  # the online status is at the broker before anyone watches
    watcher = Collector(mosquitto.url, edge_status_topic("box-7"))
    assert watcher.got.wait(10)
    online = EdgeStatus.model_validate_json(watcher.messages[-1][1])  # the contract's message
    assert (online.edge_id, online.state) == ("box-7", "online") and watcher.messages[-1][2]  # retained
    watcher.got.clear()
    publisher.stop()
    assert watcher.got.wait(10)
    assert json.loads(watcher.messages[-1][1]) == {"schema_version": 1, "edge_id": "box-7", "state": "offline",
                                                  "reason": "stopped"}
    watcher.stop()


def test_edge_metrics_are_served_for_prometheus(tmp_path: Path, mosquitto: LocalBroker, shared: Path) -> None:
    config = EdgeConfig.model_validate({
        "edge_id": "box-m",
        "model": {"path": str(shared / "models/yolo11n-coco-int8-320.onnx")},
        "mqtt": {"url": mosquitto.url},
        "cameras": [{"id": "cam-m", "url": str(shared / "media/clips/street-1920x1080.mp4"), "sample_fps": 2,
                     "zones": [{"id": "z", "kind": "parked_bike", "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]],
                                "classes": ["car"], "dwell_s": 60, "micro_grid": "mg-017"}]}],
        "evidence": {"dir": str(tmp_path / "evidence")},
        "outbox": {"path": str(tmp_path / "outbox.sqlite")},
        "metrics": {"host": "127.0.0.1", "port": 0},
    })
    runner = EdgeRunner(config, speed=0)
    runner.start()
    runner.wait()
    try:
        text = httpx.get(f"http://127.0.0.1:{runner.metrics_server.server_port}/metrics").text
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for family in text_string_to_metric_families(text) for s in family.samples}
        cam = (("camera", "cam-m"),)
        assert samples[("gridpatrol_edge_frames_decoded_total", cam)] == 103  # every frame of the clip
        assert samples[("gridpatrol_edge_frames_analysed_total", cam)] == 7  # 3.4 s at 2 per second
        assert samples[("gridpatrol_edge_inference_seconds_count", ())] == 7
        assert ("gridpatrol_edge_outbox_depth", ()) in samples
        assert samples[("gridpatrol_edge_camera_online", cam)] == 0  # the file ended
    finally:
        runner.stop(flush_timeout_s=2)


def test_an_image_the_store_refuses_for_what_it_is_does_not_hold_the_event(tmp_path: Path,
                                                                           mosquitto: LocalBroker) -> None:
    """A 422 (say, an image that does not decode) is no outage: the event goes at once without
    it, nothing is owed; a store that is down (503) is waited for and owed."""
    collector = Collector(mosquitto.url, "gridpatrol/v1/box-9/+/events", "dispatcher-like", persistent=False)
    assert collector.subscribed.wait(10)
    image = tmp_path / "snap.jpg"
    image.write_bytes(b"\xff\xd8\xff not really a jpeg")
    refusing = Receiver(status=422, body=b'{"detail": "not a whole JPEG image"}')
    outbox = Outbox(tmp_path / "outbox.sqlite")
    publisher = Publisher("box-9", MqttConfig(url=mosquitto.url),
                          EvidenceConfig(upload_url=f"{refusing.url}/api/v1/evidence", upload_wait_s=60), outbox)
    try:
        publisher.start()
        outbox.put("gridpatrol/v1/box-9/cam-1/events", b'{"n": 1}', [str(image)])
        assert publisher.flush(10.0) and collector.wait_for(1, 10.0)  # well within its 60 s wait
        assert outbox.owed_count() == 0 and len(refusing.received) == 1
        refusing.status = 503  # now the store is down: the next event waits, then is owed
        outbox.put("gridpatrol/v1/box-9/cam-1/events", b'{"n": 2}', [str(image)])
        time.sleep(2.0)
        assert outbox.depth() == 1 and outbox.owed_count() == 0  # waiting (upload_wait_s 60 s)
    finally:
        collector.stop()
        publisher.stop()
        refusing.close()
