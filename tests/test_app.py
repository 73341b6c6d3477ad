"""The dispatcher process as an operator runs it: secrets stay out of its log. A real
`gridpatrol dispatcher serve` with Uvicorn's access log on, and every way a secret can reach
a URL: a session token a client put in a query string, the live feed's ticket, a signed
evidence link, a delivery-receipt link."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml
from conftest import LOOPBACK_OUTBOUND
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from gridpatrol.broker import LocalBroker, free_port, wait_port
from gridpatrol.data import PROJECT_ROOT


def test_secrets_in_urls_never_reach_the_log(tmp_path: Path, mosquitto: LocalBroker) -> None:
    port = free_port()
    path = tmp_path / "dispatcher.yaml"
    path.write_text(yaml.safe_dump({
        "database_url": f"sqlite:///{tmp_path / 'db.sqlite'}", "data_dir": str(tmp_path / "data"),
        "grid_file": str(PROJECT_ROOT / "configs/grid.yaml"), "mqtt": {"url": mosquitto.url},
        "http": {"host": "127.0.0.1", "port": port}, "outbound": LOOPBACK_OUTBOUND}))
    cli = [sys.executable, "-m", "gridpatrol.cli", "dispatcher"]
    subprocess.run([*cli, "set-password", "--config", str(path), "d-01"], cwd=PROJECT_ROOT, check=True,
                   env={**os.environ, "GRIDPATROL_PASSWORD": "correct horse battery"}, capture_output=True)
    log = tmp_path / "dispatcher.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([*cli, "serve", "--config", str(path)], cwd=PROJECT_ROOT, stdout=out, stderr=out)
    try:
        assert wait_port(port, 30)
        base, ws = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/api/v1/feed"
        token = httpx.post(f"{base}/api/v1/auth/login",
                           json={"person_id": "d-01", "password": "correct horse battery"}).json()["token"]
        auth = {"authorization": f"Bearer {token}"}
        # A client that puts its token in the URL is refused, and the URL is logged without it.
        assert httpx.get(f"{base}/api/v1/cases?token={token}").status_code == 401
        with pytest.raises(InvalidStatus) as refused:
            connect(f"{ws}?token={token}", open_timeout=10)
        assert refused.value.response.status_code == 403
        ticket = httpx.post(f"{base}/api/v1/feed/tickets", headers=auth).json()
        with connect(ws, subprotocols=[ticket["protocol"], f"ticket.{ticket['ticket']}"], open_timeout=10) as conn:
            assert conn.subprotocol == "gridpatrol.v1"
        sig = "0123456789abcdef" * 2
        assert httpx.get(f"{base}/api/v1/evidence/{'a' * 64}.jpg?exp=4102444800&sig={sig}").status_code == 403
        assert httpx.get(f"{base}/api/v1/notifications/7/receipt?sig={sig}").status_code == 403
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
    text = log.read_text()
    assert "GET /api/v1/cases?token=[redacted]" in text  # the access log is on and was filtered
    assert "sig=[redacted]" in text
    for secret in (token, ticket["ticket"], sig):
        assert secret not in text
