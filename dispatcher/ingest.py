"""Ingest: the MQTT subscription that turns events into cases.

A message is acknowledged (PUBACK) only after it is stored, in a persistent MQTT v5 session
(fixed client id, clean_start off, session expiry), so a dispatcher that dies mid-stream gets
the unacknowledged messages again. Bad messages are never dropped silently: they go to the
quarantine table with the reason.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker

from contract import EVENTS_SUBSCRIPTION, ViolationEvent, parse_event
from contract.configfile import format_location
from contract.mqtt import MqttConfig, mqtt_client
from dispatcher.cases import CaseService, IngestResult
from dispatcher.config import IngestConfig
from dispatcher.db import QuarantineRow

log = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 256 * 1024


@dataclass
class IngestStats:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    cases_opened: int = 0
    last_error: str | None = None
    connected: bool = False


def check_message(topic: str, payload: bytes) -> ViolationEvent:
    """The event in ``payload``; ``ValueError`` says what is wrong with the message."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"payload is {len(payload)} bytes, over the {MAX_PAYLOAD_BYTES} limit")
    try:
        event = parse_event(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ValueError(
            f"not a valid v1 event: {format_location(first['loc'])}: {first['msg']}"
            + (f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else "")
        ) from None
    if topic != event.topic():
        raise ValueError(f"topic {topic!r} does not match the event's edge and camera ({event.topic()!r})")
    return event


class Ingest:
    def __init__(
        self,
        mqtt_cfg: MqttConfig,
        cfg: IngestConfig,
        cases: CaseService,
        sessions: sessionmaker,
        on_result: Callable[[ViolationEvent, IngestResult], None],
    ) -> None:
        self.cases = cases
        self.sessions = sessions
        self.on_result = on_result
        self.cfg = cfg
        self.mqtt_cfg = mqtt_cfg
        self.stats = IngestStats()
        self._stop = threading.Event()
        self.client = mqtt_client(mqtt_cfg, mqtt_cfg.client_id or cfg.client_id)
        self.client.manual_ack_set(True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.subscription = (
            f"$share/{cfg.shared_group}/{EVENTS_SUBSCRIPTION}" if cfg.shared_group else EVENTS_SUBSCRIPTION
        )

    def start(self) -> None:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.cfg.session_expiry_s
        self.client.connect_async(
            self.mqtt_cfg.host, self.mqtt_cfg.port, self.mqtt_cfg.keepalive_s, clean_start=False, properties=props
        )
        self.client.loop_start()

    def stop(self) -> None:
        self._stop.set()
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.stats.last_error = f"broker refused: {reason_code}"
            log.error("broker refused the dispatcher: %s", reason_code)
            return
        self.stats.connected = True
        client.subscribe(self.subscription, qos=1)
        log.info("dispatcher subscribed to %s", self.subscription)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.stats.connected = False
        if not self._stop.is_set():
            log.warning("dispatcher lost the broker: %s", reason_code)

    def _quarantine(self, topic: str, payload: bytes, reason: str) -> None:
        self.stats.quarantined += 1
        log.warning("quarantined a message on %s: %s", topic, reason)
        with self.sessions() as session:
            session.add(QuarantineRow(topic=topic, payload=payload[:MAX_PAYLOAD_BYTES], reason=reason))
            session.commit()

    def handle(self, topic: str, payload: bytes) -> IngestResult | None:
        """Store one message; returns None when it went to quarantine. Retries while the
        database is unavailable, so a message is acknowledged only once it is kept."""
        self.stats.received += 1
        delay = 0.5
        while True:
            try:
                try:
                    event = check_message(topic, payload)
                except ValueError as exc:
                    self._quarantine(topic, payload, str(exc))
                    return None
                result = self.cases.ingest(event)
                break
            except OperationalError as exc:
                self.stats.last_error = f"database unavailable: {exc.orig}"
                log.error("database unavailable (%s); retrying in %.1fs", exc.orig, delay)
                if self._stop.wait(delay):
                    raise
                delay = min(delay * 2, 30.0)
        if result.duplicate:
            self.stats.duplicates += 1
        else:
            self.stats.stored += 1
            self.stats.cases_opened += int(result.opened)
        self.on_result(event, result)
        return result

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        try:
            self.handle(message.topic, message.payload)
        except Exception as exc:  # keep the subscription alive whatever one message does
            self.stats.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("ingest failed for a message on %s; it stays unacknowledged", message.topic)
            return
        client.ack(message.mid, message.qos)


def wait_connected(ingest: Ingest, timeout_s: float) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if ingest.stats.connected:
            return True
        time.sleep(0.05)
    return False
