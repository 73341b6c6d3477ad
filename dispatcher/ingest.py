"""Ingest: the MQTT subscription that turns events into cases.

Messages are stored in batches (one transaction for up to ``batch_size`` messages or
``batch_wait_s``, whichever comes first) by a writer thread, and each is acknowledged (PUBACK,
in arrival order) only after its batch is committed, in a persistent MQTT v5 session (fixed
client id, clean_start off, session expiry): a dispatcher that dies mid-stream gets the
unacknowledged messages again, and dedup on event_id makes the second delivery harmless.
Bad messages are never dropped silently: they go to the quarantine table with the reason.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker

from contract import EVENTS_SUBSCRIPTION, ViolationEvent, parse_event
from contract.configfile import first_error
from contract.events import utcnow
from contract.mqtt import MqttConfig, mqtt_client
from dispatcher.cases import CaseService, IngestResult
from dispatcher.config import IngestConfig
from dispatcher.db import QuarantineRow
from dispatcher.screen import EventScreen, Screening

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


def check_message(topic: str, payload: bytes, screen: Screening | None = None) -> ViolationEvent:
    """The event in ``payload``; ``ValueError`` says what is wrong with the message (its form,
    its topic, or what ``screen`` refuses)."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"payload is {len(payload)} bytes, over the {MAX_PAYLOAD_BYTES} limit")
    try:
        event = parse_event(payload)
    except ValidationError as exc:
        raise ValueError(
            f"not a valid v1 event: {first_error(exc)}"
            + (f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else "")
        ) from None
    if topic != event.topic():
        raise ValueError(f"topic {topic!r} does not match the event's edge and camera ({event.topic()!r})")
    problem = screen(event) if screen else None
    if problem:
        raise ValueError(problem)
    return event


class Ingest:
    def __init__(
        self,
        mqtt_cfg: MqttConfig,
        cfg: IngestConfig,
        cases: CaseService,
        sessions: sessionmaker,
        on_result: Callable[[ViolationEvent, IngestResult], None],
        screen: EventScreen | None = None,
    ) -> None:
        self.cases = cases
        self.screen = screen
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
        self._inbox: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self._writer = threading.Thread(target=self._write_loop, name="ingest-writer", daemon=True)

    def start(self) -> None:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.cfg.session_expiry_s
        props.ReceiveMaximum = self.cfg.receive_maximum  # unacknowledged messages the broker may send us
        self._writer.start()
        self.client.connect_async(
            self.mqtt_cfg.host, self.mqtt_cfg.port, self.mqtt_cfg.keepalive_s, clean_start=False, properties=props
        )
        self.client.loop_start()

    def stop(self) -> None:
        self._stop.set()
        if self._writer.is_alive():
            self._writer.join(10)
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

    def _store(self, events: list[ViolationEvent], bad: list[QuarantineRow]) -> list[IngestResult]:
        """One transaction for the batch's bad messages, then one for its events."""
        if bad:
            with self.sessions() as session:
                session.add_all(bad)
                session.commit()
        return self.cases.ingest_many(events) if events else []

    def handle_batch(self, messages: list[tuple[str, bytes]]) -> list[IngestResult | None]:
        """Store messages (None where one went to quarantine). Retries while the database is
        unavailable, so a message is acknowledged only once it is kept."""
        self.stats.received += len(messages)
        events: list[ViolationEvent] = []
        bad: list[QuarantineRow] = []
        slots: list[int | None] = []
        screening = self.screen.for_batch(utcnow()) if self.screen else None
        for topic, payload in messages:
            try:
                events.append(check_message(topic, payload, screening))
                slots.append(len(events) - 1)
            except ValueError as exc:
                log.warning("quarantined a message on %s: %s", topic, exc)
                bad.append(QuarantineRow(topic=topic, payload=payload[:MAX_PAYLOAD_BYTES], reason=str(exc)))
                slots.append(None)
        delay = 0.5
        while True:
            try:
                results = self._store(events, bad)
                break
            except OperationalError as exc:
                self.stats.last_error = f"database unavailable: {exc.orig}"
                log.error("database unavailable (%s); retrying in %.1fs", exc.orig, delay)
                if self._stop.wait(delay):
                    raise
                delay = min(delay * 2, 30.0)
        self.stats.quarantined += len(bad)
        for event, result in zip(events, results, strict=True):
            if result.refused:
                self.stats.quarantined += 1
                continue
            if result.duplicate:
                self.stats.duplicates += 1
            else:
                self.stats.stored += 1
                self.stats.cases_opened += int(result.opened)
            self.on_result(event, result)
        return [results[i] if i is not None and not results[i].refused else None for i in slots]

    def handle(self, topic: str, payload: bytes) -> IngestResult | None:
        return self.handle_batch([(topic, payload)])[0]

    def quarantined(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest messages kept aside, with the reason and the start of the payload."""
        with self.sessions() as session:
            rows = session.scalars(select(QuarantineRow).order_by(QuarantineRow.id.desc()).limit(limit))
            return [{"id": r.id, "topic": r.topic, "reason": r.reason, "received_at": r.received_at.isoformat(),
                     "payload_preview": r.payload[:200].decode("utf-8", "replace")} for r in rows]

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        self._inbox.put(message)

    def _next_batch(self) -> list[mqtt.MQTTMessage]:
        try:
            batch = [self._inbox.get(timeout=0.2)]
        except queue.Empty:
            return []
        deadline = time.monotonic() + self.cfg.batch_wait_s
        while len(batch) < self.cfg.batch_size:
            try:
                batch.append(self._inbox.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        return batch

    def _write_loop(self) -> None:
        while not self._stop.is_set():
            batch = self._next_batch()
            if not batch:
                continue
            try:
                self.handle_batch([(m.topic, m.payload) for m in batch])
            except Exception as exc:  # keep ingesting whatever one batch does
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("ingest failed for %d messages; they stay unacknowledged", len(batch))
                continue
            for message in batch:  # in arrival order, after the commit
                self.client.ack(message.mid, message.qos)


def wait_connected(ingest: Ingest, timeout_s: float) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if ingest.stats.connected:
            return True
        time.sleep(0.05)
    return False
