"""The broker's side of security, on a real Mosquitto with docker/mosquitto/acl.example: no
anonymous clients, a wrong password is refused, and an edge box may publish only under its
own edge_id (a message under another box's prefix never reaches the dispatcher)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from contract.mqtt import MqttConfig, mqtt_client
from gridpatrol.broker import LocalBroker, mosquitto_path
from gridpatrol.data import PROJECT_ROOT

PEOPLE = {"box-01": "box-01-secret", "box-02": "box-02-secret", "dispatcher": "dispatcher-secret"}


@pytest.fixture
def secured_broker(tmp_path: Path):
    if mosquitto_path() is None:
        pytest.fail("mosquitto is not installed: run `make test`")
    passwords = tmp_path / "passwords"
    passwords.touch()
    for user, password in PEOPLE.items():
        subprocess.run(["mosquitto_passwd", "-b", str(passwords), user, password], check=True)
    passwords.chmod(0o600)
    acl = PROJECT_ROOT / "docker/mosquitto/acl.example"
    broker = LocalBroker(persistence_dir=tmp_path / "data", extra_conf=(
        f"allow_anonymous false\npassword_file {passwords}\nacl_file {acl}")).start()
    yield broker
    broker.stop()


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
