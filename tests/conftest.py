"""Shared fixtures: the shared data set, a real Mosquitto per test, a real dispatcher."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

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


def dispatcher_config(tmp_path: Path, broker_url: str, **overrides: object) -> DispatcherConfig:
    values: dict[str, object] = {
        "database_url": f"sqlite:///{tmp_path / 'dispatcher.sqlite'}",
        "data_dir": tmp_path / "dispatcher",
        "grid_file": PROJECT_ROOT / "configs" / "grid.yaml",
        "mqtt": {"url": broker_url},
        "http": HttpConfig(host="127.0.0.1", port=free_port()),
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


@pytest.fixture
def clean_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "work"
    path.mkdir()
    yield path
    shutil.rmtree(path, ignore_errors=True)
