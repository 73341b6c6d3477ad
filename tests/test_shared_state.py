"""N dispatchers behave as one: two dispatchers on one PostgreSQL database (each with its own
data folder, as on two hosts) hold the same VAPID key pair and link secret, count the same
failed logins and take a channel's sending rate from one bucket; a dispatcher upgraded from
one that kept its keys in its data folder keeps them, so phones stay subscribed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from builders import api_client, dispatcher_config
from py_vapid import Vapid, b64urlencode

from dispatcher.db import make_engine, make_sessions
from dispatcher.sharedstate import SharedRateLimiter
from gridpatrol.broker import LocalBroker
from gridpatrol.demo import DispatcherThread


@pytest.fixture
def two_dispatchers(tmp_path: Path, mosquitto: LocalBroker, pg_database: str) -> Iterator[list[DispatcherThread]]:
    threads = [DispatcherThread(dispatcher_config(tmp_path / name, mosquitto.url, database_url=pg_database,
                                                  data_dir=tmp_path / name / "data",
                                                  ingest={"client_id": f"dispatcher-{name}"}))
               for name in ("a", "b")]
    for thread in threads:
        thread.start()
    yield threads
    for thread in threads:
        thread.stop()


def test_two_dispatchers_hold_the_same_keys_and_count_the_same_logins(two_dispatchers: list[DispatcherThread]) -> None:
    a, b = two_dispatchers
    assert a.services.keys.application_server_key == b.services.keys.application_server_key
    # as a phone reads it to subscribe, logged in through either
    served = [api_client(t, "w-017").get("/api/v1/push/vapid-public-key").json() for t in (a, b)]
    assert served[0] == served[1] == {"application_server_key": a.services.keys.application_server_key}
    # an evidence link signed by one is genuine at the other (404: B has no such image; a
    # tampered one is refused as not genuine, 403)
    link = a.services.links.image("0" * 64)
    assert link is not None
    at_b = link.replace(a.url, b.url)
    assert httpx.get(at_b).status_code == 404
    assert httpx.get(at_b.replace("sig=", "sig=0")).status_code == 403
    assert not (a.config.data_dir / "link_secret").exists()  # nothing of it on disk

    # five wrong passwords, spread over the two: the sixth try is held up at either
    a.services.auth.set_password("w-017", "correct horse battery")
    good = {"person_id": "w-017", "password": "correct horse battery"}
    for thread in (a, b, a, b, a):
        assert httpx.post(f"{thread.url}/api/v1/auth/login", json={**good, "password": "wrong"}).status_code == 401
    assert httpx.post(f"{b.url}/api/v1/auth/login", json=good).status_code == 429
    assert httpx.post(f"{a.url}/api/v1/auth/login", json=good).status_code == 429


def test_a_channels_rate_is_one_bucket_for_all_dispatchers(pg_database: str) -> None:
    first, second = (SharedRateLimiter(make_sessions(make_engine(pg_database))) for _ in range(2))
    taken = [first.wait_time("robot:east", 3), second.wait_time("robot:east", 3), first.wait_time("robot:east", 3)]
    assert taken == [0.0, 0.0, 0.0]  # three a minute, taken by two dispatchers
    assert second.wait_time("robot:east", 3) > 15 and first.wait_time("robot:east", 3) > 15  # ~20 s for the next
    assert first.wait_time("robot:west", 3) == 0.0  # another robot, its own bucket


def test_a_dispatcher_that_kept_its_keys_on_disk_keeps_them(tmp_path: Path, mosquitto: LocalBroker,
                                                           pg_database: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    old = Vapid()
    old.generate_keys()
    old.save_key(str(data / "vapid_private.pem"))
    (data / "link_secret").write_text("an-older-dispatchers-link-secret-0123456789")
    thread = DispatcherThread(dispatcher_config(tmp_path, mosquitto.url, database_url=pg_database, data_dir=data))
    thread.start()
    try:
        from cryptography.hazmat.primitives import serialization

        raw = old.public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        assert thread.services.keys.application_server_key == b64urlencode(raw)
        assert thread.services.links.key == b"an-older-dispatchers-link-secret-0123456789"
    finally:
        thread.stop()
