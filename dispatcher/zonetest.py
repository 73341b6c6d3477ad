"""Asking a box to try a zone on its camera's recent past (contract/zonetest.py).

The dispatcher's status client (dispatcher/cameras.py) carries the exchange: it listens on the
request's own answer topic, publishes the request to the box, and waits a bounded time. Each
request has its own id, so with several dispatchers only the one that asked takes the answer.
"""

from __future__ import annotations

import threading
import uuid

import paho.mqtt.client as mqtt
from pydantic import ValidationError

from contract.zones import ZoneConfig
from contract.zonetest import ZoneTestAnswer, ZoneTestRequest, zone_test_answer_topic, zone_test_request_topic
from i18n import Msg

ANSWERS = "gridpatrol/v1/+/zone-test/answer/+"
MAX_ANSWER_BYTES = 4 * 1024 * 1024  # 40 events with small pictures fit in far less


class ZoneTestFailed(RuntimeError):
    """The box did not answer, or answered nonsense; the message is for people."""

    def __init__(self, message: Msg) -> None:
        super().__init__(message)
        self.message = message


class ZoneTester:
    def __init__(self, client: mqtt.Client, timeout_s: float = 20.0) -> None:
        self.client = client
        self.timeout_s = timeout_s
        self._waiting: dict[str, tuple[threading.Event, list[bytes]]] = {}
        self._lock = threading.Lock()
        client.message_callback_add(ANSWERS, self._on_answer)

    def _on_answer(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            waiting = self._waiting.get(message.topic)
        if waiting is not None and len(message.payload) <= MAX_ANSWER_BYTES:
            waiting[1].append(message.payload)
            waiting[0].set()

    def ask(self, edge_id: str, camera_id: str, zone: ZoneConfig, minutes: float) -> ZoneTestAnswer:
        request = ZoneTestRequest(request_id=uuid.uuid4(), camera_id=camera_id, zone=zone, minutes=minutes)
        topic = zone_test_answer_topic(edge_id, request.request_id)
        arrived, payloads = threading.Event(), []
        with self._lock:
            self._waiting[topic] = (arrived, payloads)
        try:
            result, _ = self.client.subscribe(topic, qos=1)
            if result != mqtt.MQTT_ERR_SUCCESS:
                raise ZoneTestFailed(Msg("the dispatcher is not connected to the broker"))
            self.client.publish(zone_test_request_topic(edge_id), request.model_dump_json(), qos=1)
            if not arrived.wait(self.timeout_s):
                raise ZoneTestFailed(Msg("box {edge} did not answer within {seconds} s: is it online?", edge=edge_id,
                                         seconds=round(self.timeout_s)))
        finally:
            self.client.unsubscribe(topic)
            with self._lock:
                self._waiting.pop(topic, None)
        try:
            answer = ZoneTestAnswer.model_validate_json(payloads[0])
        except ValidationError as exc:
            raise ZoneTestFailed(Msg("box {edge} answered with a message that does not validate: {reason}",
                                     edge=edge_id, reason=str(exc).splitlines()[0])) from None
        if answer.request_id != request.request_id or answer.edge_id != edge_id:
            raise ZoneTestFailed(Msg("box {edge} answered another request", edge=edge_id))
        return answer


__all__ = ["ZoneTestFailed", "ZoneTester"]
