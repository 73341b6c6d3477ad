"""Server-side request forgery: no URL a phone or the config names makes the dispatcher call an
internal address, follow a redirect, or hand a remote answer back to users. Real servers on
loopback stand in for the internal services that must never be reached."""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from builders import api_client, dispatcher_config, open_case, push_keys, wait_for
from certs import town_ca
from http_receiver import Receiver

from contract.configfile import ConfigError
from dispatcher.config import DispatcherConfig
from dispatcher.outbound import GuardedClient, OutboundGuard, UrlRefused
from dispatcher.services import Services
from gridpatrol.demo import DispatcherThread


@pytest.fixture
def internal() -> Iterator[Receiver]:
    """An internal service (think: the town's intranet, a cloud metadata endpoint)."""
    server = Receiver(body=b"INTERNAL-SECRET")
    yield server
    server.close()


@pytest.mark.parametrize(("url", "why"), [
    ("http://127.0.0.1:8080/x", "internal address"),
    ("https://10.1.2.3/x", "internal address"),
    ("https://169.254.169.254/latest/meta-data", "internal address"),
    ("https://[::1]/x", "internal address"),
    ("https://[::ffff:127.0.0.1]/x", "internal address"),
    ("https://100.64.0.1/x", "internal address"),  # carrier-grade NAT, shared address space
    ("https://224.0.0.1/x", "internal address"),
    ("https://0.0.0.0/x", "internal address"),
    ("http://93.184.216.34/x", "plain http"),
    ("javascript:alert(1)", "must be https"),
    ("file:///etc/passwd", "must be https"),
    ("https://user:pw@push.example/x", "user name or password"),
    ("https://x:99999/", "not a URL"),
])
def test_the_form_of_a_url_is_checked_before_any_lookup(url: str, why: str) -> None:
    with pytest.raises(UrlRefused, match=why):
        OutboundGuard().check(url)


def test_push_endpoints_must_be_on_a_known_push_service() -> None:
    guard = OutboundGuard()
    assert guard.check("https://fcm.googleapis.com/fcm/send/abc", push=True) == ("fcm.googleapis.com", 443)
    assert guard.check("https://web.push.apple.com/QGu", push=True)[0] == "web.push.apple.com"
    for url in ("https://fcm.googleapis.com.evil.example/x", "https://evilfcm.googleapis.com/x",
                "https://push.apple.com.evil.example/x", "https://example.com/push"):
        with pytest.raises(UrlRefused, match="not a known push service"):
            guard.check(url, push=True)


def test_a_name_that_resolves_inside_is_refused_and_nothing_is_sent(internal: Receiver) -> None:
    # DNS is what an attacker controls: fcm.googleapis.com "resolving" to loopback.
    guard = OutboundGuard(resolver=lambda host, port: ["127.0.0.1"])
    with GuardedClient(guard, push=True) as http, pytest.raises(UrlRefused, match="internal address"):
        http.post(f"https://fcm.googleapis.com:{internal.port}/fcm/send/x", content=b"{}")
    # One public and one internal answer: every address must pass.
    guard = OutboundGuard(resolver=lambda host, port: ["93.184.216.34", "10.0.0.7"])
    with GuardedClient(guard) as http, pytest.raises(UrlRefused, match=r"10\.0\.0\.7"):
        http.get("https://sms.example.com/send")
    assert internal.received == []


def test_the_request_goes_to_the_address_checked_and_tls_verifies_the_name(tmp_path: Path) -> None:
    ca, cert, key = town_ca(tmp_path, dns_names=("push.town.test",))
    server = Receiver(status=201, tls=(cert, key))
    lookups: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        lookups.append(host)
        return ["127.0.0.1"]

    guard = OutboundGuard(allow_networks=["127.0.0.0/8"], resolver=resolver)
    try:
        with GuardedClient(guard, verify=ssl.create_default_context(cafile=str(ca))) as http:
            response = http.post(f"https://push.town.test:{server.port}/device", content=b"x")
        assert response.status_code == 201 and lookups == ["push.town.test"]
        assert server.received[0].headers["host"] == f"push.town.test:{server.port}"
        # The certificate is checked against the name, not the address connected to.
        wrong = OutboundGuard(allow_networks=["127.0.0.0/8"], resolver=lambda h, p: ["127.0.0.1"])
        with GuardedClient(wrong, verify=ssl.create_default_context(cafile=str(ca))) as http, \
                pytest.raises(httpx.ConnectError, match=r"certificate|hostname"):
            http.get(f"https://other.town.test:{server.port}/")
    finally:
        server.close()


def test_redirects_are_never_followed(internal: Receiver) -> None:
    redirector = Receiver(status=307, headers={"location": f"{internal.url}/latest/meta-data"})
    try:
        with GuardedClient(OutboundGuard(allow_networks=["127.0.0.0/8"])) as http:
            response = http.post(f"{redirector.url}/hook", content=b"{}")
        assert response.status_code == 307 and len(redirector.received) == 1
        assert internal.received == []
    finally:
        redirector.close()


def test_a_phone_cannot_subscribe_an_internal_endpoint(tmp_path: Path, mosquitto, internal: Receiver) -> None:
    """The default dispatcher: a worker's push subscription must be https on a push service."""
    thread = DispatcherThread(dispatcher_config(tmp_path, mosquitto.url, outbound={}))
    thread.start()
    try:
        worker = api_client(thread, "w-017")
        keys = push_keys()
        for endpoint in (f"{internal.url}/push", f"https://127.0.0.1:{internal.port}/push",
                         "https://169.254.169.254/latest", "https://fcm.googleapis.com.evil.example/x"):
            answer = worker.post("/api/v1/people/w-017/push-subscriptions", json={"endpoint": endpoint, "keys": keys})
            assert answer.status_code == 422, endpoint
            assert "endpoint" in answer.json()["detail"]
        assert worker.post("/api/v1/people/w-017/push-subscriptions", json={
            "endpoint": "https://fcm.googleapis.com/fcm/send/dev-1", "keys": keys}).status_code == 201
        assert internal.received == []
    finally:
        thread.stop()


def test_a_remote_answer_is_never_shown_to_users(dispatcher: DispatcherThread, mosquitto) -> None:
    """A push service (allowed: loopback in the tests' config) that answers 400 with a body:
    the case's notification keeps its status code, not the body."""
    chatty = Receiver(status=400, body=b"INTERNAL-SECRET: db password is hunter2")
    try:
        worker = api_client(dispatcher, "w-017")
        assert worker.post("/api/v1/people/w-017/push-subscriptions", json={
            "endpoint": f"{chatty.url}/push/dev", "keys": push_keys()}).status_code == 201
        case = open_case(dispatcher, mosquitto)
        push = wait_for(lambda: [n for n in worker.get(f"/api/v1/cases/{case['id']}").json()["notifications"]
                                 if n["channel"] == "webpush" and n["attempts"] >= 1], 20, "the push attempt")[0]
        assert push["detail"] == "push service answered 400"
        assert "INTERNAL" not in worker.get(f"/api/v1/cases/{case['id']}").text
    finally:
        chatty.close()


def test_config_urls_to_internal_addresses_are_refused_at_start(tmp_path: Path) -> None:
    config = DispatcherConfig.model_validate({
        "data_dir": tmp_path, "database_url": f"sqlite:///{tmp_path / 'd.sqlite'}",
        "channels": {"sms": {"url": "http://10.0.0.5:8080/send"},
                     "robots": {"meta": {"kind": "wecom", "url": "https://169.254.169.254/hook"}}},
        "city_webhook": {"url": "http://192.168.1.9/city", "secret": "s" * 16},
    })
    with pytest.raises(ConfigError) as refused:
        Services.build(config)
    for key in ("channels.sms.url", "channels.robots.meta.url", "city_webhook.url"):
        assert key in str(refused.value)
    networks = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "169.254.0.0/16", "192.168.0.0/16")]
    allowed = config.model_copy(update={"outbound": config.outbound.model_copy(update={"allow_networks": networks})})
    assert allowed.outbound_problems() == []
