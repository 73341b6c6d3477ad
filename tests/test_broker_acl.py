"""The broker's side of security, on a real Mosquitto with docker/mosquitto/acl.example: no
anonymous clients, a wrong password is refused, an edge box may publish only under its own
edge_id (a message under another box's prefix never reaches the dispatcher), and both halves
work over TLS (mqtts://) with a town's private CA."""

from __future__ import annotations

import json
import ssl
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from builders import PEOPLE, users_and_acl

from contract.mqtt import MqttConfig, mqtt_client
from gridpatrol.broker import LocalBroker


def connect(broker: LocalBroker, user: str | None, password: str | None, client_id: str) -> tuple[mqtt.Client, int]:
    client = mqtt_client(MqttConfig(url=broker.url, username=user, password=password), client_id)
    codes: list[int] = []
    client.on_connect = lambda c, u, flags, reason, props: codes.append(reason.value)
    client.connect(broker.url.split("://")[1].split(":")[0], broker.port)
    client.loop_start()
    for _ in range(50):
        if codes:
            break
        time.sleep(0.1)
    return client, codes[0] if codes else -1


def test_edges_publish_only_under_their_own_id(secured_broker: LocalBroker) -> None:
    for user, password in ((None, None), ("box-01", "wrong")):
        client, code = connect(secured_broker, user, password, f"intruder-{user}")
        client.loop_stop()
        assert code != 0  # not authorised / bad user name or password

    received: list[str] = []
    dispatcher, code = connect(secured_broker, "dispatcher", PEOPLE["dispatcher"], "dispatcher")
    assert code == 0
    dispatcher.on_message = lambda c, u, msg: received.append(msg.topic)
    dispatcher.subscribe("gridpatrol/v1/#", qos=1)
    time.sleep(0.5)

    box, code = connect(secured_broker, "box-01", PEOPLE["box-01"], "box-01")
    assert code == 0
    own = box.publish("gridpatrol/v1/box-01/cam-001/events", b"{}", qos=1)
    other = box.publish("gridpatrol/v1/box-02/cam-001/events", b"{}", qos=1)  # pretending to be box-02
    own.wait_for_publish(5)
    other.wait_for_publish(5)
    time.sleep(1.0)
    assert received == ["gridpatrol/v1/box-01/cam-001/events"]
    for client in (box, dispatcher):
        client.loop_stop()
        client.disconnect()


def test_both_halves_work_over_tls_with_the_towns_ca(tmp_path: Path) -> None:
    """An edge box's publisher and a dispatcher on mqtts:// with the town's CA (mqtt.ca_file),
    user names and passwords: the event becomes a case. A client that does not trust the CA
    is refused at the handshake, and the TLS port does not speak plain MQTT."""
    from builders import api_client, case_for, dispatcher_config, sample_event, wait_for
    from certs import town_ca

    from edge.config import EvidenceConfig
    from edge.outbox import Outbox
    from edge.publisher import Publisher
    from gridpatrol.broker import free_port
    from gridpatrol.demo import DispatcherThread

    ca, cert, key = town_ca(tmp_path)
    tls_port = free_port()
    tls_listener = f"listener {tls_port} 127.0.0.1\ncafile {ca}\ncertfile {cert}\nkeyfile {key}"
    broker = LocalBroker(persistence_dir=tmp_path / "data",
                         extra_conf=f"{users_and_acl(tmp_path)}\n{tls_listener}").start()
    url = f"mqtts://127.0.0.1:{tls_port}"
    thread = DispatcherThread(dispatcher_config(tmp_path, url, mqtt={
        "url": url, "ca_file": str(ca), "username": "dispatcher", "password": PEOPLE["dispatcher"]}))
    thread.start()
    outbox = Outbox(tmp_path / "outbox.sqlite")
    publisher = Publisher("box-01", MqttConfig(url=url, ca_file=str(ca), username="box-01",
                                               password=PEOPLE["box-01"]), EvidenceConfig(), outbox)
    try:
        publisher.start()
        assert publisher.wait_connected(15), "the edge did not connect over TLS"
        event = sample_event()
        outbox.put("gridpatrol/v1/box-01/cam-001/events", json.dumps(event).encode())
        assert publisher.flush(15)
        staff = api_client(thread)
        case = wait_for(lambda: case_for(staff, event["violation_id"]), 15, "the case of the event sent over TLS")
        assert case["camera_id"] == "cam-001"

        untrusting = mqtt_client(MqttConfig(url=url, username="box-02", password=PEOPLE["box-02"]), "untrusting")
        with pytest.raises(ssl.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
            untrusting.connect("127.0.0.1", tls_port)
        plain = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="plain", protocol=mqtt.MQTTv5)
        plain.username_pw_set("box-02", PEOPLE["box-02"])
        codes: list[object] = []
        plain.on_connect = lambda c, u, flags, reason, props: codes.append(reason)
        plain.connect("127.0.0.1", tls_port)
        plain.loop_start()
        time.sleep(2)
        plain.loop_stop()
        assert not any(getattr(code, "value", 1) == 0 for code in codes)  # never accepted
    finally:
        publisher.stop()
        outbox.close()
        thread.stop()
        broker.stop()


def test_only_dispatchers_ask_a_box_for_zone_tests_and_each_box_hears_only_its_own(
        secured_broker: LocalBroker) -> None:
    heard: dict[str, list[str]] = {"box-01": [], "box-02": []}
    boxes = {}
    for name in heard:
        client, code = connect(secured_broker, name, PEOPLE[name], name)
        assert code == 0
        client.on_message = lambda c, u, msg, name=name: heard[name].append(msg.topic)
        client.subscribe("gridpatrol/v1/+/zone-test/request", qos=1)  # wider than its own: the ACL narrows it
        boxes[name] = client
    dispatcher, code = connect(secured_broker, "dispatcher", PEOPLE["dispatcher"], "dispatcher")
    assert code == 0
    time.sleep(0.5)
    dispatcher.publish("gridpatrol/v1/box-01/zone-test/request", b"{}", qos=1).wait_for_publish(5)
    boxes["box-02"].publish("gridpatrol/v1/box-01/zone-test/request", b"{}", qos=1).wait_for_publish(5)
    time.sleep(1.0)
    assert heard == {"box-01": ["gridpatrol/v1/box-01/zone-test/request"], "box-02": []}
    for client in (*boxes.values(), dispatcher):
        client.loop_stop()
        client.disconnect()


def test_only_dispatchers_push_zones_and_a_box_reads_only_its_own(secured_broker: LocalBroker) -> None:
    heard: dict[str, list[str]] = {"box-01": [], "box-02": []}
    boxes = {}
    for name in heard:
        client, code = connect(secured_broker, name, PEOPLE[name], name)
        assert code == 0
        client.on_message = lambda c, u, msg, name=name: heard[name].append(msg.payload.decode())
        client.subscribe("gridpatrol/v1/+/config", qos=1)  # wider than its own: the ACL narrows it
        boxes[name] = client
    dispatcher, code = connect(secured_broker, "dispatcher", PEOPLE["dispatcher"], "dispatcher")
    assert code == 0
    time.sleep(0.5)
    dispatcher.publish("gridpatrol/v1/box-01/config", b"from the dispatcher", qos=1, retain=True).wait_for_publish(5)
    # a box pushing zones to itself (or to another): the broker drops it
    boxes["box-01"].publish("gridpatrol/v1/box-01/config", b"from box-01", qos=1, retain=True).wait_for_publish(5)
    boxes["box-02"].publish("gridpatrol/v1/box-01/config", b"from box-02", qos=1, retain=True).wait_for_publish(5)
    time.sleep(1.0)
    assert heard == {"box-01": ["from the dispatcher"], "box-02": []}
    for client in (*boxes.values(), dispatcher):
        client.loop_stop()
        client.disconnect()
