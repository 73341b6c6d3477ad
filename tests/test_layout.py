"""The shape of the project: the two halves meet only at the contract; every command has --help."""

from __future__ import annotations

import ast
import subprocess
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.publish as mqtt_publish
import paho.mqtt.subscribe as mqtt_subscribe
import pytest

from gridpatrol.broker import LocalBroker

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(package: str) -> set[str]:
    names: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return names


def test_dispatcher_imports_only_the_contract_of_the_edge_side() -> None:
    forbidden = {"edge", "cv2", "onnxruntime", "av", "torch", "ultralytics"}
    assert imported_modules("dispatcher") & forbidden == set()
    assert imported_modules("contract") & (forbidden | {"dispatcher", "fastapi", "sqlalchemy"}) == set()
    # And at run time, after building the whole app:
    code = (
        "import sys; from dispatcher.app import create_app; import dispatcher.ingest, dispatcher.notify;"
        "bad = {'edge', 'cv2', 'onnxruntime', 'av', 'torch'} & set(m.split('.')[0] for m in sys.modules);"
        "print(sorted(bad)); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_routers_leave_the_tables_to_the_services() -> None:
    """dispatcher/api/ reads and writes through the services (cases, notify, ingest, auth),
    never by querying the tables itself."""
    for path in (ROOT / "dispatcher/api").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            module = node.module if isinstance(node, ast.ImportFrom) else None
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [module or ""]
            assert not any(n == "dispatcher.db" or n.startswith("sqlalchemy") for n in names), path.name


def test_edge_never_imports_the_dispatcher_or_pytorch() -> None:
    assert imported_modules("edge") & {"dispatcher", "fastapi", "sqlalchemy", "torch", "ultralytics"} == set()


@pytest.mark.parametrize(
    "args",
    [[], ["edge"], ["edge", "run"], ["edge", "replay"], ["dispatcher"], ["dispatcher", "serve"], ["demo"]],
)
def test_every_command_has_help(args: list[str]) -> None:
    proc = subprocess.run([sys.executable, "-m", "gridpatrol.cli", *args, "--help"],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 0 and "usage: gridpatrol" in proc.stdout


def test_embedded_broker_carries_qos1_messages_where_no_mosquitto_is_installed() -> None:
    with LocalBroker(prefer="amqtt") as broker:
        assert broker.kind == "amqtt"
        got: list[bytes] = []

        def listen() -> None:
            got.append(mqtt_subscribe.simple("t/x", qos=1, hostname="127.0.0.1", port=broker.port).payload)

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        for _ in range(50):
            if got:
                break
            mqtt_publish.single("t/x", b"hello", qos=1, hostname="127.0.0.1", port=broker.port)
            time.sleep(0.2)
        listener.join(5)
        assert got == [b"hello"]
