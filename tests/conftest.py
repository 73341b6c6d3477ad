"""Shared fixtures: the shared data set, a real Mosquitto per test, a real dispatcher."""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.publish as mqtt_publish
import psycopg
import pytest
from samples import sample_event

from dispatcher.config import DispatcherConfig, HttpConfig
from gridpatrol.broker import LocalBroker, free_port, mosquitto_path
from gridpatrol.data import PROJECT_ROOT, data_dir
from gridpatrol.demo import DispatcherThread


@pytest.fixture(scope="session")
def shared() -> Path:
    root = data_dir()
    if not (root / "models").is_dir() or not (root / "media").is_dir():
        pytest.fail(f"shared data not found at {root}: set GRIDPATROL_DATA to the shared data folder")
    return root


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[LocalBroker]:
    """A real Mosquitto on a free port, only for this test (so a test may kill it)."""
    if mosquitto_path() is None:
        pytest.fail("mosquitto is not installed: run `make test` (it installs the Debian package)")
    broker = LocalBroker(prefer="mosquitto", persistence_dir=tmp_path / "mosquitto").start()
    assert broker.kind == "mosquitto"
    yield broker
    broker.stop()


# The tests' push service, phone platforms and gateways listen on loopback: allowed as a town
# allows the gateways on its own network (tests/test_outbound.py checks the default refuses them).
LOOPBACK_OUTBOUND = {"allow_networks": ["127.0.0.0/8"], "push_hosts": ["127.0.0.1"]}


def dispatcher_config(tmp_path: Path, broker_url: str, **overrides: object) -> DispatcherConfig:
    values: dict[str, object] = {
        "database_url": f"sqlite:///{tmp_path / 'dispatcher.sqlite'}",
        "data_dir": tmp_path / "dispatcher",
        "grid_file": PROJECT_ROOT / "configs" / "grid.yaml",
        "mqtt": {"url": broker_url},
        "http": HttpConfig(host="127.0.0.1", port=free_port()),
        "outbound": LOOPBACK_OUTBOUND,
    }
    values.update(overrides)
    return DispatcherConfig.model_validate(values)


@pytest.fixture
def dispatcher(tmp_path: Path, mosquitto: LocalBroker) -> Iterator[DispatcherThread]:
    """A dispatcher served by Uvicorn on a free port, subscribed to the test's broker."""
    thread = DispatcherThread(dispatcher_config(tmp_path, mosquitto.url))
    thread.start()
    from dispatcher.ingest import wait_connected

    assert wait_connected(thread.services.ingest, 10), "dispatcher did not reach the broker"
    yield thread
    thread.stop()


def api_client(thread: DispatcherThread, person: str | None = "d-01", machine: str | None = None) -> httpx.Client:
    """An HTTP client of ``thread`` logged in as ``person`` (default the dispatcher d-01), or
    holding a machine token of role ``machine``."""
    auth = thread.services.auth
    token = auth.issue_machine(f"test {machine}", machine).token if machine else auth.issue_session(person).token
    return httpx.Client(base_url=thread.url, timeout=10, headers={"authorization": f"Bearer {token}"})


def wait_for(predicate: Callable[[], Any], timeout_s: float, what: str) -> Any:
    """Poll ``predicate`` until it gives something truthy (returned) or ``timeout_s`` passes."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def case_for(client: httpx.Client, violation_id: str) -> dict | None:
    """The case (summary) of one violation, as ``client`` may see it, or None."""
    found = [c for c in client.get("/api/v1/cases").json() if c["violation_id"] == violation_id]
    return found[0] if found else None


def open_case(dispatcher: DispatcherThread, mosquitto: LocalBroker, **fields: object) -> dict:
    """Publish a sample event (tests/samples.py) on the broker; the case it opens."""
    host, port = mosquitto.url.removeprefix("mqtt://").split(":")
    event = sample_event(**fields)
    mqtt_publish.single(f"gridpatrol/v1/{event['edge_id']}/{event['camera_id']}/events", json.dumps(event), qos=1,
                        hostname=host, port=int(port))
    staff = api_client(dispatcher)
    return wait_for(lambda: case_for(staff, event["violation_id"]), 10, "the case to open")


@pytest.fixture
def clean_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "work"
    path.mkdir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


PG_ADMIN = os.environ.get("GRIDPATROL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def postgres_admin() -> str:
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        pytest.fail(f"PostgreSQL not reachable at {PG_ADMIN} ({exc}); `make test` starts it")
    return PG_ADMIN


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of each kind the dispatcher supports."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'dispatcher.sqlite'}"
        return
    admin = request.getfixturevalue("postgres_admin")
    name = f"gridpatrol_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    yield f"{base}/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
