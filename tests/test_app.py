"""The dispatcher process as an operator runs it: secrets stay out of its log. A real
`gridpatrol dispatcher serve` with Uvicorn's access log on, and every way a secret can reach
a URL: a session token a client put in a query string, the live feed's ticket, a signed
evidence link, a delivery-receipt link."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml
from builders import LOOPBACK_OUTBOUND, api_client
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


def test_request_bodies_are_read_no_further_than_their_route_allows(dispatcher) -> None:
    """A 200 MB body to the login route (no token needed) is cut off after 64 KiB, sent with
    a length or chunked; routes that take images or a whole grid allow theirs."""
    anonymous = httpx.Client(base_url=dispatcher.url, timeout=30)

    def flood():
        for _ in range(200 * 16):  # 200 MB in 64 KiB pieces, chunked: no length declared
            yield b"x" * 65536

    refused = anonymous.post("/api/v1/auth/login", content=flood(), headers={"content-type": "application/json"})
    assert refused.status_code == 413  # the rest was discarded as it came, never held in memory
    # A declared length over the limit is answered before a byte of the body is read.
    host, port = dispatcher.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        raw.sendall(b"POST /api/v1/auth/login HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                    b"content-length: 209715200\r\n\r\n{")
        assert raw.recv(4096).startswith(b"HTTP/1.1 413 ")
    staff = api_client(dispatcher)
    assert staff.post("/api/v1/cases/1/actions/void", json={"reason": "x" * 70_000}).status_code == 413
    assert staff.post("/api/v1/cases/1/actions/void", json={"reason": "x" * 1_000}).status_code == 404
    # The grid route takes a large document (here: refused for what it says, not its size).
    big = {"document": {"town": "t", "padding": "x" * 1_000_000}}
    assert staff.put("/api/v1/grid/document", json=big).status_code in (403, 422)
