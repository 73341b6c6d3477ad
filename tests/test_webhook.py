"""The city platform's webhook: written with the case change, signed, retried, receipted."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sqlalchemy import select
from test_storage import opened, service

from dispatcher.config import CityWebhookConfig, OutboundConfig
from dispatcher.db import OutboundRow
from dispatcher.webhook import CityWebhookSender
from gridpatrol.broker import free_port

SECRET = "s3cret-shared-with-the-city"
LOOPBACK = OutboundConfig(allow_networks=["127.0.0.0/8"]).guard()  # the stand-in city platform is on loopback


class CityPlatform:
    """A receiver that checks signatures; it fails its first ``failures`` requests."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.received: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                expected = "sha256=" + hmac.new(
                    SECRET.encode(), self.headers["x-gridpatrol-timestamp"].encode() + b"." + body, hashlib.sha256
                ).hexdigest()
                if not hmac.compare_digest(expected, self.headers["x-gridpatrol-signature"]):
                    self.send_response(401)
                elif outer.failures > 0:
                    outer.failures -= 1
                    self.send_response(503)
                else:
                    outer.received.append(json.loads(body) | {"delivery": self.headers["x-gridpatrol-delivery"]})
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/gridpatrol"


def test_cases_reach_the_city_platform_signed_and_retried(database_url: str) -> None:
    city = CityPlatform(failures=2)
    cases = service(database_url)
    cases.city_webhook = True
    ids = [r.case_id for r in cases.ingest_many([opened(1), opened(2)])]  # the bulk path
    cases.act(ids[0], "void", "l-017", reason="a delivery van, not parked")
    sender = CityWebhookSender(cases.sessions, CityWebhookConfig(url=city.url, secret=SECRET, attempts=5),
                               LOOPBACK, first_retry_s=0.0)
    for _ in range(10):
        sender.send_due()
        if len(city.received) == 3:
            break
    city.server.shutdown()
    assert sorted((m["topic"], m["case_id"]) for m in city.received) == sorted(
        [("case.opened", ids[0]), ("case.opened", ids[1]), ("case.voided", ids[0])])
    opened_msg = next(m for m in city.received if m["topic"] == "case.opened")
    assert opened_msg["case"]["event_code"] == "0506" and opened_msg["case"]["micro_grid"] == "mg-017"
    with cases.sessions() as s:
        rows = s.scalars(select(OutboundRow)).all()
        assert {r.status for r in rows} == {"delivered"} and sum(r.attempts for r in rows) == 3 + 2
        assert all(r.response_status == 200 and r.delivered_at for r in rows)
    assert len({m["delivery"] for m in city.received}) == 3


def test_a_dead_platform_marks_messages_failed_and_keeps_them(database_url: str) -> None:
    cases = service(database_url)
    cases.city_webhook = True
    cases.ingest(opened(1))
    dead = f"http://127.0.0.1:{free_port()}/nothing-listens"
    sender = CityWebhookSender(cases.sessions, CityWebhookConfig(url=dead, secret=SECRET, attempts=3),
                               LOOPBACK, first_retry_s=0.0)
    for _ in range(5):
        sender.send_due()
    with cases.sessions() as s:
        row = s.scalars(select(OutboundRow)).one()
        assert (row.status, row.attempts) == ("failed", 3) and "ConnectError" in row.last_error
