"""Drains the outbox to the MQTT broker: evidence upload first (if configured), then the
event at QoS 1; an item leaves the outbox only once the broker acknowledged it.

Evidence never holds events back for long: when the evidence store does not take an image,
the event waits at most ``evidence.upload_wait_s``, then goes out as it is (its image links
name the images by their SHA-256, which the store will hold) and its images are owed; a second
loop uploads what is owed as soon as the store takes images again. While the store is known
to be down, later events do not wait at all.

The edge announces itself on ``gridpatrol/v1/<edge_id>/status`` (retained), with a last
will that says ``offline`` when the box disappears without a goodbye. Each camera's health
goes to ``gridpatrol/v1/<edge_id>/<camera_id>/status`` (retained): camera status is state,
not history, so the publisher keeps the newest per camera and announces them all again on
every (re)connect instead of queueing each change.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt

from contract import CameraStatus, EdgeState, EdgeStatus, edge_status_topic
from contract.configpush import config_topic
from contract.mqtt import MqttConfig, mqtt_client
from contract.zonetest import ZoneTestAnswer, zone_test_answer_topic, zone_test_request_topic
from edge.config import EvidenceConfig
from edge.outbox import Outbox, OutboxItem
from edge.source import Backoff

log = logging.getLogger(__name__)


# The store refused the image itself (malformed, too large, not a JPEG, wrong digest): no retry
# helps. Anything else (down, a token to be fixed, throttled) is tried again.
REFUSED_FOR_WHAT_IT_IS = (400, 413, 415, 422)


class UploadError(RuntimeError):
    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent  # the store refused this image for what it is (a 4xx): trying again won't help


class Publisher:
    def __init__(
        self, edge_id: str, mqtt_cfg: MqttConfig, evidence_cfg: EvidenceConfig, outbox: Outbox,
        on_published: Callable[[], object] | None = None, classes: list[str] | None = None,
        on_zone_test: Callable[[bytes], object] | None = None,
        on_zones: Callable[[bytes], object] | None = None,
    ) -> None:
        self.edge_id = edge_id
        self.classes = classes  # the model's class names, in the online status (for the zone editor)
        self.on_zone_test = on_zone_test  # a zone test request's payload; answered with answer()
        self.on_zones = on_zones  # zones pushed by a dispatcher (contract/configpush.py)
        self.zones_version: int | None = None  # said in the online status: the pushed zones running
        self.zones_refused: str | None = None
        self.outbox = outbox
        self.evidence_cfg = evidence_cfg
        self.on_published = on_published or (lambda: None)
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._online: mqtt.MQTTMessageInfo | None = None
        self._camera_status: dict[str, CameraStatus] = {}
        self._status_lock = threading.Lock()
        self.published = 0
        self.client = mqtt_client(mqtt_cfg, mqtt_cfg.client_id or f"gridpatrol-edge-{edge_id}")
        gone = EdgeStatus(edge_id=edge_id, state=EdgeState.offline, reason="lost")
        self.client.will_set(edge_status_topic(edge_id), gone.model_dump_json(exclude_none=True), 1, True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.host, self.port = mqtt_cfg.host, mqtt_cfg.port
        self.keepalive = mqtt_cfg.keepalive_s
        self._thread = threading.Thread(target=self._run, name="edge-publisher", daemon=True)
        self._owed = threading.Thread(target=self._owed_loop, name="edge-owed-uploads", daemon=True)
        self._store_down = threading.Event()  # the evidence store refused the last upload
        self.upload_error = ""
        self.uploaded_late = 0  # images uploaded after their event went out
        self._http = httpx.Client(timeout=10.0)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("broker refused the connection: %s", reason_code)
            return
        self._online = self._announce(client)
        if self.on_zone_test is not None:
            client.subscribe(zone_test_request_topic(self.edge_id), qos=1)
        if self.on_zones is not None:
            client.subscribe(config_topic(self.edge_id), qos=1)  # retained: the newest comes on every connect
        with self._status_lock:
            current = list(self._camera_status.values())
        for status in current:
            client.publish(status.topic(), status.model_dump_json(), 1, True)
        self._connected.set()
        log.info("connected to broker %s:%s", self.host, self.port)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connected.clear()
        if not self._stop.is_set():
            log.warning("disconnected from broker: %s", reason_code)

    def _announce(self, client: mqtt.Client) -> mqtt.MQTTMessageInfo:
        online = EdgeStatus(edge_id=self.edge_id, state=EdgeState.online, classes=self.classes,
                            zones_version=self.zones_version, zones_refused=self.zones_refused)
        return client.publish(edge_status_topic(self.edge_id), online.model_dump_json(exclude_none=True), 1, True)

    def zones_state(self, version: int | None, refused: str) -> None:
        """The pushed zones' version running, or the one refused and why: said now, and on
        every reconnect."""
        self.zones_version, self.zones_refused = version, refused[:500] or None
        if self._connected.is_set():
            self._announce(self.client)

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        if self.on_zone_test is not None and message.topic == zone_test_request_topic(self.edge_id):
            self.on_zone_test(message.payload)
        elif self.on_zones is not None and message.topic == config_topic(self.edge_id) and message.payload:
            self.on_zones(message.payload)

    def answer(self, answer: ZoneTestAnswer) -> None:
        """A zone test's answer, on the topic its asker listens on (QoS 1, not kept)."""
        self.client.publish(zone_test_answer_topic(self.edge_id, answer.request_id), answer.model_dump_json(), 1)

    def set_camera_status(self, status: CameraStatus) -> None:
        """Record a camera's state; sent now if connected, and again on every reconnect."""
        with self._status_lock:
            self._camera_status[status.camera_id] = status
        if self._connected.is_set():
            self.client.publish(status.topic(), status.model_dump_json(), 1, True)

    def camera_status(self, camera_id: str) -> CameraStatus | None:
        with self._status_lock:
            return self._camera_status.get(camera_id)

    def start(self) -> None:
        self.client.connect_async(self.host, self.port, self.keepalive)
        self.client.loop_start()
        self._thread.start()
        self._owed.start()

    def _upload(self, paths: list[str]) -> None:
        """PUT each image to the dispatcher, named by its SHA-256 (a repeat is harmless)."""
        if not self.evidence_cfg.upload_url:
            return
        for name in paths:
            path = Path(name)
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                log.error("evidence %s is gone (pruned?); publishing the event without uploading it", path)
                continue
            headers = {"content-type": "image/jpeg"}
            if self.evidence_cfg.upload_token:
                headers["authorization"] = f"Bearer {self.evidence_cfg.upload_token}"
            url = f"{self.evidence_cfg.upload_url.rstrip('/')}/{hashlib.sha256(data).hexdigest()}.jpg"
            try:
                response = self._http.put(url, content=data, headers=headers)
            except httpx.HTTPError as exc:
                raise UploadError(f"evidence upload to {url} failed: {exc}") from None
            if response.status_code >= 300:
                raise UploadError(f"evidence upload to {url} answered {response.status_code}: {response.text[:200]}",
                                  permanent=response.status_code in REFUSED_FOR_WHAT_IT_IS)

    def _upload_or_owe(self, item: OutboxItem) -> str:
        """Upload the item's images; "" when it may be published now (uploaded, or owed after
        its wait), else why it waits."""
        if not self._store_down.is_set():
            try:
                self._upload(item.evidence_paths)
                return ""
            except UploadError as exc:
                if exc.permanent:  # this image, not the store: the event goes without it
                    log.error("outbox item %s: %s; publishing the event without it", item.seq, exc)
                    return ""
                self._store_down.set()  # later events do not wait for a store known to be down
                self.upload_error = str(exc)
        if time.time() - item.created_at < self.evidence_cfg.upload_wait_s:
            return self.upload_error
        self.outbox.defer_uploads(item.evidence_paths)
        log.warning("outbox item %s goes without waiting for its images (%s); they follow when the store is back",
                    item.seq, self.upload_error)
        return ""

    def _owed_loop(self) -> None:
        """Upload owed images whenever the store takes them again, oldest first. With nothing
        owed, a store marked down is unmarked after a pause, so that the next event tries it."""
        backoff = Backoff(1.0, 15.0)
        delays = backoff.delays()
        while not self._stop.is_set():
            owed = self.outbox.owed_uploads(50)
            if not owed:
                self._stop.wait(2.0 if self._store_down.is_set() else 0.5)
                self._store_down.clear()
                continue
            for path in owed:
                try:
                    self._upload([path])
                except UploadError as exc:
                    if exc.permanent:  # refused for what it is: no retry will take it
                        log.error("owed image %s dropped: %s", path, exc)
                        self.outbox.uploaded(path)
                        continue
                    self.outbox.upload_failed(path, str(exc))
                    self._stop.wait(next(delays))
                    break
                self.outbox.uploaded(path)
                self.uploaded_late += 1
            else:
                self._store_down.clear()
                delays = backoff.delays()

    def _send(self, items: list[OutboxItem]) -> tuple[int, str]:
        """Publish ``items`` in order without waiting for each PUBACK in turn (one connection
        keeps its QoS 1 messages in order), then wait for the acknowledgements: how many from
        the first were acknowledged, and why the next one was not."""
        sent: list[mqtt.MQTTMessageInfo] = []
        error = ""
        for item in items:
            error = self._upload_or_owe(item)
            if error:
                break
            sent.append(self.client.publish(item.topic, item.payload, qos=1))
        for done, info in enumerate(sent):
            try:
                info.wait_for_publish(timeout=10.0)
            except (RuntimeError, ValueError) as exc:
                return done, str(exc)
            if not info.is_published():
                return done, "no PUBACK from the broker within 10 s"
        return len(sent), error

    def _run(self) -> None:
        backoff = Backoff(0.5, 15.0)
        delays = backoff.delays()
        while not self._stop.is_set():
            if not self._connected.wait(0.5):
                continue
            items = self.outbox.peek(100)
            if not items:
                self.outbox.wait(0.5)
                continue
            done, error = self._send(items)
            if done:
                self.outbox.ack(*(item.seq for item in items[:done]))
                self.published += done
                for _ in range(done):
                    self.on_published()
                delays = backoff.delays()
            if error:
                self.outbox.failed(items[done].seq, error)
                delay = next(delays)
                log.warning("outbox item %s not delivered (%s); retrying in %.1fs", items[done].seq, error, delay)
                self._stop.wait(delay)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout_s: float) -> bool:
        """True once connected and the broker has acknowledged the retained online status."""
        if not self._connected.wait(timeout_s) or self._online is None:
            return False
        self._online.wait_for_publish(timeout_s)
        return self._online.is_published()

    def flush(self, timeout_s: float) -> bool:
        """Wait until the outbox is empty; True if it emptied in time."""
        waited = 0.0
        while self.outbox.depth() and waited < timeout_s:
            self._stop.wait(0.1)
            waited += 0.1
        return self.outbox.depth() == 0

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        if self._owed.is_alive():
            self._owed.join(timeout=5)
        if self._connected.is_set():
            goodbye = EdgeStatus(edge_id=self.edge_id, state=EdgeState.offline, reason="stopped")
            info = self.client.publish(edge_status_topic(self.edge_id), goodbye.model_dump_json(exclude_none=True),
                                       1, True)
            info.wait_for_publish(timeout=2.0)
        self.client.disconnect()
        self.client.loop_stop()
        self._http.close()
