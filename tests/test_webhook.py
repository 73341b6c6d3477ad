"""The city platform's webhook: written with the case change, signed, retried, receipted."""

from __future__ import annotations

from builders import case_service, opened_event
from http_receiver import Answer, Receiver, Request, signed_by
from sqlalchemy import select

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
        self.server = Receiver(respond=self._answer)
        self.url = f"{self.server.url}/gridpatrol"

    def _answer(self, request: Request) -> Answer:
        if not signed_by(request, SECRET):
            return 401, b"", {}
        if self.failures > 0:
            self.failures -= 1
            return 503, b"", {}
        self.received.append(request.json() | {"delivery": request.headers["x-gridpatrol-delivery"]})
        return 200, b"", {}


def test_cases_reach_the_city_platform_signed_and_retried(database_url: str) -> None:
    city = CityPlatform(failures=2)
    cases = case_service(database_url)
    cases.city_webhook = True
    ids = [r.case_id for r in cases.ingest_many([opened_event(1), opened_event(2)])]  # the bulk path
    cases.act(ids[0], "void", "l-017", reason="a delivery van, not parked")
    sender = CityWebhookSender(cases.sessions, CityWebhookConfig(url=city.url, secret=SECRET, attempts=5),
                               LOOPBACK, first_retry_s=0.0)
    for _ in range(10):
        sender.send_due()
        if len(city.received) == 3:
            break
    city.server.close()
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
    cases = case_service(database_url)
    cases.city_webhook = True
    cases.ingest(opened_event(1))
    dead = f"http://127.0.0.1:{free_port()}/nothing-listens"
    sender = CityWebhookSender(cases.sessions, CityWebhookConfig(url=dead, secret=SECRET, attempts=3),
                               LOOPBACK, first_retry_s=0.0)
    for _ in range(5):
        sender.send_due()
    with cases.sessions() as s:
        row = s.scalars(select(OutboundRow)).one()
        assert (row.status, row.attempts) == ("failed", 3) and "ConnectError" in row.last_error
