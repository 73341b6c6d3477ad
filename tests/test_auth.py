"""Nobody let in who should not be: every route but health needs a token, roles decide what
a caller sees and does, secrets are hashed at rest, logins are throttled, evidence links are
signed and expire. Against a real dispatcher (Uvicorn) and its database."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from builders import api_client, dispatcher_config, jpeg_bytes, open_case, push_keys
from sqlalchemy import select, update
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from dispatcher.auth import LoginLimiter, LoginThrottled
from dispatcher.db import ApiTokenRow, CredentialRow, FeedTicketRow, LoginFailureRow, make_engine, make_sessions
from dispatcher.hashing import hash_password, verify_password
from gridpatrol.demo import DispatcherThread

ROOT = Path(__file__).resolve().parents[1]


def test_every_route_but_health_login_and_words_needs_a_token(dispatcher: DispatcherThread) -> None:
    spec = httpx.get(f"{dispatcher.url}/openapi.json").json()
    anonymous = httpx.Client(base_url=dispatcher.url, timeout=10)
    checked = 0
    for path, methods in spec["paths"].items():
        concrete = re.sub(r"\{[^}]+\}", "1", path.replace("{name}", "a" * 64 + ".jpg"))
        for method in methods:
            response = anonymous.request(method.upper(), concrete, json={})
            if path in ("/healthz", "/api/v1/auth/login", "/api/v1/i18n"):  # public: the login page needs its words
                assert response.status_code != 401, path
                continue
            if path == "/api/v1/rating":  # a resident's: by the link's secret, no account (tests/test_ratings.py)
                assert response.status_code == 422, (method, response.status_code)  # no X-Rating-Token
                continue
            if path == "/api/v1/evidence/{name}" and method == "get":
                assert response.status_code == 401  # neither a signed link nor a token
            elif path == "/api/v1/notifications/{notification_id}/receipt":
                assert response.status_code == 422  # signed per notification, no token: no sig, no entry
            else:
                assert response.status_code == 401, (method, path, response.status_code)
            checked += 1
    assert checked >= 15
    assert anonymous.get("/metrics").status_code == 401
    bogus = {"authorization": "Bearer gp_not-a-token"}
    assert anonymous.get("/api/v1/cases", headers=bogus).status_code == 401


def test_roles_decide_what_each_caller_sees_and_does(dispatcher: DispatcherThread, mosquitto) -> None:
    case = open_case(dispatcher, mosquitto)
    assert case["worker_id"] == "w-017"
    owner, other = api_client(dispatcher, "w-017"), api_client(dispatcher, "w-018")
    leader, other_leader = api_client(dispatcher, "l-017"), api_client(dispatcher, "l-018")
    edge = api_client(dispatcher, machine="edge")

    # Reading: the owner, the grid's leader and the dispatcher; not another worker or leader.
    for client in (owner, leader, api_client(dispatcher)):
        assert client.get(f"/api/v1/cases/{case['id']}").status_code == 200
        assert [c["id"] for c in client.get("/api/v1/cases").json()] == [case["id"]]
    for client in (other, other_leader):
        assert client.get(f"/api/v1/cases/{case['id']}").status_code == 403
        assert client.get("/api/v1/cases").json() == []
    assert other.get("/api/v1/people/w-017/inbox").status_code == 403
    assert edge.get("/api/v1/cases").status_code == 403

    # Acting: the actor is the token's person, whatever the body says.
    assert other.post(f"/api/v1/cases/{case['id']}/acknowledge", json={"person_id": "w-017"}).status_code == 403
    assert edge.post(f"/api/v1/cases/{case['id']}/acknowledge").status_code == 403
    accepted = owner.post(f"/api/v1/cases/{case['id']}/acknowledge").json()
    assert accepted["state"] == "accepted"
    timeline = api_client(dispatcher).get(f"/api/v1/cases/{case['id']}").json()["timeline"]
    assert timeline[-1]["action"] == "accept" and timeline[-1]["actor_id"] == "w-017"

    # Configuration and staff pages: not for workers.
    assert owner.post("/api/v1/auth/tokens", json={"name": "x", "role": "admin"}).status_code == 403
    assert owner.get("/api/v1/quarantine").status_code == 403
    assert owner.get("/api/v1/assessment", params={"month": "2026-10"}).status_code == 403
    assert owner.put("/api/v1/auth/passwords/w-018", json={"password": "x" * 12}).status_code == 403
    assert owner.post("/api/v1/people/w-018/push-subscriptions", json={
        "endpoint": "https://fcm.googleapis.com/fcm/send/x", "keys": push_keys()}).status_code == 403
    assert owner.get("/metrics").status_code == 403
    assert owner.put("/api/v1/grid/rosters", json={"items": []}).status_code == 403  # the grid's people
    assert owner.put("/api/v1/zones/cam-001", json={"zones": []}).status_code == 403  # the cameras' zones
    assert owner.get("/api/v1/grid/document").status_code == 403
    assert api_client(dispatcher, machine="monitor").get("/metrics").status_code == 200

    # Logging out revokes the token.
    assert owner.post("/api/v1/auth/logout").status_code == 204
    assert owner.get("/api/v1/auth/me").status_code == 401


def test_login_passwords_and_tokens_are_hashed_and_throttled(dispatcher: DispatcherThread) -> None:
    svc = dispatcher.services
    svc.auth.set_password("w-017", "correct horse battery")
    anonymous = httpx.Client(base_url=dispatcher.url, timeout=10)
    good = {"person_id": "w-017", "password": "correct horse battery"}
    login = anonymous.post("/api/v1/auth/login", json=good)
    assert login.status_code == 200
    token = login.json()["token"]
    me = anonymous.get("/api/v1/auth/me", headers={"authorization": f"Bearer {token}"}).json()
    assert (me["person_id"], me["role"]) == ("w-017", "worker")

    with svc.sessions() as session:
        stored = session.get(CredentialRow, "w-017").password_hash
        hashes = set(session.scalars(select(ApiTokenRow.token_hash)))
    assert "correct horse" not in stored and stored.startswith("scrypt$")
    assert hashlib.sha256(token.encode()).hexdigest() in hashes and token not in hashes

    # Five wrong passwords from one address: that address is held up for this person (429,
    # Retry-After), the right person elsewhere is not, nor other people from that address.
    for _ in range(5):
        assert anonymous.post("/api/v1/auth/login", json={**good, "password": "wrong guess"}).status_code == 401
    throttled = anonymous.post("/api/v1/auth/login", json=good)
    assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) > 0
    elsewhere = {"x-forwarded-for": "203.0.113.7"}  # through the town's proxy (a trusted address here)
    assert anonymous.post("/api/v1/auth/login", json=good, headers=elsewhere).status_code == 200
    assert anonymous.post("/api/v1/auth/login", json={"person_id": "nobody", "password": "x"}).status_code == 401

    # A person changes their own password with the current one.
    worker = httpx.Client(base_url=dispatcher.url, headers={"authorization": f"Bearer {token}"})
    assert worker.put("/api/v1/auth/passwords/w-017", json={"password": "new password 1"}).status_code == 403
    assert worker.put("/api/v1/auth/passwords/w-017", json={
        "password": "new password 1", "current_password": "correct horse battery"}).status_code == 204
    assert anonymous.post("/api/v1/auth/login", json={**good, "password": "new password 1"},
                          headers=elsewhere).status_code == 200


def test_login_limits_slide_expire_and_are_shared_by_dispatchers(database_url: str) -> None:
    url = database_url  # SQLite and PostgreSQL
    clock = [datetime(2026, 12, 4, 9, 0, tzinfo=UTC)]
    one, two = (LoginLimiter(make_sessions(make_engine(url)), 60, per_pair=2, per_address=3,
                             clock=lambda: clock[0]) for _ in range(2))
    one.failed("w-017", "198.51.100.1")
    clock[0] += timedelta(seconds=30)
    two.failed("w-017", "198.51.100.1")  # the other dispatcher counts the same failures
    with pytest.raises(LoginThrottled) as caught:
        one.check("w-017", "198.51.100.1")
    assert caught.value.retry_after_s == pytest.approx(30)
    one.check("w-017", "198.51.100.2")  # the same person from elsewhere
    two.failed("w-018", "198.51.100.1")  # a third failure from the address: spraying stops there
    with pytest.raises(LoginThrottled):
        two.check("w-019", "198.51.100.1")
    clock[0] += timedelta(seconds=31)  # the first failure left the window
    one.check("w-017", "198.51.100.1")
    clock[0] += timedelta(minutes=5)
    one.failed("l-017", "198.51.100.9")  # each failure sweeps the expired ones away
    with one.sessions() as session:
        assert sorted(session.scalars(select(LoginFailureRow.key))) == ["address:198.51.100.9",
                                                                        "pair:l-017|198.51.100.9"]
    two.succeeded("l-017", "198.51.100.9")
    with one.sessions() as session:
        assert list(session.scalars(select(LoginFailureRow.key))) == ["address:198.51.100.9"]
    assert verify_password("pw-123456", hash_password("pw-123456"))
    assert not verify_password("pw-123457", hash_password("pw-123456"))
    assert not verify_password("x", "not a hash")


def test_evidence_links_are_signed_and_expire(dispatcher: DispatcherThread, mosquitto) -> None:
    jpeg = jpeg_bytes()
    sha = hashlib.sha256(jpeg).hexdigest()
    edge = api_client(dispatcher, machine="edge")
    put = edge.put(f"/api/v1/evidence/{sha}.jpg", content=jpeg, headers={"content-type": "image/jpeg"})
    assert put.status_code == 201
    assert httpx.put(put.json()["url"], content=jpeg, headers={"content-type": "image/jpeg"}).status_code == 401
    case = open_case(dispatcher, mosquitto, snapshot={"url": put.json()["url"], "sha256": sha,
                                                       "width": 640, "height": 480})
    link = case["snapshot_url"]
    assert "sig=" in link and "exp=" in link
    assert httpx.get(link).content == jpeg  # as an <img> loads it: no token
    assert httpx.get(link.replace("sig=", "sig=0")).status_code == 403
    expired = dispatcher.services.links.sign(put.json()["url"], at=time.time() - 7200)
    assert httpx.get(expired).status_code == 403
    assert httpx.get(put.json()["url"]).status_code == 401
    assert edge.get(put.json()["url"]).status_code == 200  # or with a token


def test_evidence_uploads_are_checked_for_size_and_type(dispatcher: DispatcherThread) -> None:
    edge = api_client(dispatcher, machine="edge")
    limit = dispatcher.config.max_evidence_bytes
    big = b"\xff\xd8\xff\xe0" + bytes(limit)
    url = f"/api/v1/evidence/{hashlib.sha256(big).hexdigest()}.jpg"
    jpeg = {"content-type": "image/jpeg"}
    assert edge.put(url, content=big, headers=jpeg).status_code == 413  # declared too long

    def chunks():  # no content-length: the dispatcher stops reading past the limit
        for start in range(0, len(big), 65536):
            yield big[start:start + 65536]

    refused = edge.put(url, content=chunks(), headers=jpeg)
    assert refused.status_code == 413 and str(limit) in refused.json()["detail"]
    png = b"\x89PNG\r\n\x1a\n" + b"x" * 100
    png_url = f"/api/v1/evidence/{hashlib.sha256(png).hexdigest()}.jpg"
    assert edge.put(png_url, content=png, headers={"content-type": "image/png"}).status_code == 415
    assert edge.put(png_url, content=png, headers=jpeg).json()["detail"] == "not a JPEG image"
    small = b"\xff\xd8\xff\xe0" + b"x" * 100
    assert edge.put(f"/api/v1/evidence/{'0' * 64}.jpg", content=small, headers=jpeg).status_code == 422  # wrong hash
    assert not list(dispatcher.services.evidence.root.rglob("*.jpg"))  # nothing of these was kept


def test_feed_needs_a_staff_ticket_or_token_never_in_the_url(dispatcher: DispatcherThread) -> None:
    ws = dispatcher.url.replace("http", "ws") + "/api/v1/feed"
    auth = dispatcher.services.auth
    worker_token, staff_token = auth.issue_session("w-017").token, auth.issue_session("d-01").token

    def refused(**kwargs: object) -> None:
        with pytest.raises(InvalidStatus) as refusal:  # closed before the handshake: HTTP 403
            connect(ws, open_timeout=10, **kwargs)
        assert refusal.value.response.status_code == 403

    refused()
    refused(additional_headers={"authorization": f"Bearer {worker_token}"})
    refused(additional_headers={"authorization": "Bearer gp_forged"})
    with pytest.raises(InvalidStatus):
        connect(f"{ws}?token={staff_token}", open_timeout=10)  # a token in the URL is not read
    with connect(ws, additional_headers={"authorization": f"Bearer {staff_token}"}, open_timeout=10) as conn, \
            pytest.raises(TimeoutError):
        conn.recv(timeout=0.5)  # open, and quiet until something happens
    # Browsers: a one-time ticket in the subprotocol header, for staff only, used once.
    staff, worker = api_client(dispatcher), api_client(dispatcher, "w-017")
    assert worker.post("/api/v1/feed/tickets").status_code == 403
    ticket = staff.post("/api/v1/feed/tickets").json()
    assert ticket["expires_in_s"] == 30
    offer = [ticket["protocol"], f"ticket.{ticket['ticket']}"]
    with connect(ws, subprotocols=offer, open_timeout=10) as conn:
        assert conn.subprotocol == "gridpatrol.v1"
    refused(subprotocols=offer)  # spent
    refused(subprotocols=["gridpatrol.v1", "ticket.forged"])
    late = staff.post("/api/v1/feed/tickets").json()
    with dispatcher.services.sessions() as session:  # its 30 s are over
        session.execute(update(FeedTicketRow).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        session.commit()
    refused(subprotocols=["gridpatrol.v1", f"ticket.{late['ticket']}"])
    revoked = staff.post("/api/v1/feed/tickets").json()
    staff.post("/api/v1/auth/logout")  # the session the ticket came from ends
    refused(subprotocols=["gridpatrol.v1", f"ticket.{revoked['ticket']}"])


def test_cli_makes_machine_tokens_and_passwords(tmp_path: Path, mosquitto) -> None:
    config = dispatcher_config(tmp_path, mosquitto.url)
    path = tmp_path / "dispatcher.yaml"
    path.write_text(yaml.safe_dump(json.loads(config.model_dump_json())))
    cli = [sys.executable, "-m", "gridpatrol.cli", "dispatcher"]
    made = subprocess.run([*cli, "token", "--config", str(path), "--name", "edge-east-01", "--role", "edge"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("gp_") and "shown once" in made.stderr
    password = subprocess.run([*cli, "set-password", "--config", str(path), "l-017"], input="leader password\n",
                              cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert password.returncode == 0, password.stderr
    short = subprocess.run([*cli, "set-password", "--config", str(path), "l-017"], input="short\n",
                           cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert short.returncode == 1 and "at least 8 characters" in short.stderr

    thread = DispatcherThread(config)  # the same database
    thread.start()
    try:
        me = httpx.get(f"{thread.url}/api/v1/auth/me", headers={"authorization": f"Bearer {token}"}).json()
        assert (me["kind"], me["role"], me["name"]) == ("machine", "edge", "edge-east-01")
        login = httpx.post(f"{thread.url}/api/v1/auth/login",
                           json={"person_id": "l-017", "password": "leader password"})
        assert login.status_code == 200 and login.json()["role"] == "leader"
    finally:
        thread.stop()


def test_stats_count_what_the_caller_may_see(dispatcher: DispatcherThread, mosquitto) -> None:
    case = open_case(dispatcher, mosquitto)
    staff, other = api_client(dispatcher), api_client(dispatcher, "w-018")
    figures = staff.get("/api/v1/stats").json()
    assert (figures["total"], figures["open"], figures["undelivered"]) == (1, 1, 1)
    assert figures["by_state"] == {"dispatched": 1} and figures["by_micro_grid"] == {"mg-017": 1}
    assert other.get("/api/v1/stats").json()["total"] == 0  # not w-018's case
    assert staff.get("/api/v1/stats", params={"since": "2999-01-01T00:00:00Z"}).json()["total"] == 0
    assert staff.get("/api/v1/cases", params={"until": "2000-01-01T00:00:00Z"}).json() == []
    api_client(dispatcher, "w-017").post(f"/api/v1/cases/{case['id']}/seen")  # the worker opens it
    assert staff.get("/api/v1/stats").json()["undelivered"] == 0


def test_a_department_sees_only_what_was_escalated_to_it(dispatcher: DispatcherThread, mosquitto) -> None:
    case = open_case(dispatcher, mosquitto)  # a parked bike: dep-urban's kind, not yet its case
    department, staff = api_client(dispatcher, "dep-urban"), api_client(dispatcher)
    assert department.get("/api/v1/cases").json() == []
    assert department.get(f"/api/v1/cases/{case['id']}").status_code == 403
    assert staff.post(f"/api/v1/cases/{case['id']}/actions/escalate", json={"reason": "no answer"}).status_code == 200
    assert department.get("/api/v1/cases").json() == []  # with the micro-grid's leader now
    assert staff.post(f"/api/v1/cases/{case['id']}/actions/escalate", json={"reason": "grid cannot"}).status_code == 200
    assert [c["id"] for c in department.get("/api/v1/cases").json()] == [case["id"]]
    assert api_client(dispatcher, "dep-market").get("/api/v1/cases").json() == []


def test_a_leader_sees_the_shop_owners_of_their_own_micro_grids_only(dispatcher: DispatcherThread) -> None:
    own = api_client(dispatcher, "l-017").get("/api/v1/grid").json()["shops"]
    assert [(s["id"], s["phone"]) for s in own] == [("shop-0012", "+86 139 0000 0012")]
    assert api_client(dispatcher, "l-018").get("/api/v1/grid").json()["shops"] == []
    assert len(api_client(dispatcher).get("/api/v1/grid").json()["shops"]) == 1


def test_evidence_is_read_only_by_those_who_may_read_a_case_of_it(dispatcher: DispatcherThread, mosquitto) -> None:
    jpeg = jpeg_bytes()
    sha = hashlib.sha256(jpeg).hexdigest()
    edge, other_edge = api_client(dispatcher, machine="edge"), api_client(dispatcher, machine="edge")
    url = f"/api/v1/evidence/{sha}.jpg"
    assert edge.put(url, content=jpeg, headers={"content-type": "image/jpeg"}).status_code == 201
    open_case(dispatcher, mosquitto, snapshot={"url": f"{dispatcher.url}{url}", "sha256": sha,
                                                "width": 64, "height": 48})
    for person in ("w-017", "l-017", "d-01"):  # the case's worker and leader, a dispatcher
        assert api_client(dispatcher, person).get(url).content == jpeg, person
    assert edge.get(url).status_code == 200  # the uploader
    for person in ("w-018", "l-018", "dep-market"):
        assert api_client(dispatcher, person).get(url).status_code == 403, person
    assert other_edge.get(url).status_code == 403
    # Only the header counts: the image's name in a query string is not read.
    token = dispatcher.services.auth.issue_session("d-01").token
    assert httpx.get(f"{dispatcher.url}{url}?token={token}").status_code == 401
    for bad in ("A" * 64 + ".jpg", "a" * 63 + ".jpg", "../" + "a" * 61 + ".jpg", "a" * 64 + ".png"):
        assert api_client(dispatcher).get(f"/api/v1/evidence/{bad}").status_code in (404, 422), bad


def test_an_after_photo_is_one_the_worker_uploaded(dispatcher: DispatcherThread, mosquitto) -> None:
    snapshot = jpeg_bytes(shade=10)
    snap_sha = hashlib.sha256(snapshot).hexdigest()
    edge = api_client(dispatcher, machine="edge")
    edge.put(f"/api/v1/evidence/{snap_sha}.jpg", content=snapshot, headers={"content-type": "image/jpeg"})
    case = open_case(dispatcher, mosquitto, snapshot={"url": f"http://d/api/v1/evidence/{snap_sha}.jpg",
                                                       "sha256": snap_sha, "width": 64, "height": 48})
    worker = api_client(dispatcher, "w-017")
    actions = f"/api/v1/cases/{case['id']}/actions"
    assert worker.post(f"{actions}/accept", json={}).status_code == 200
    # Another case's (or anybody's) image by its hash: refused, no signed link to it.
    stolen = worker.post(f"{actions}/handle", json={"reason": "done", "data": {"after_photo_sha256": snap_sha}})
    assert stolen.status_code == 409 and "a photo you uploaded" in stolen.json()["detail"]
    photo = jpeg_bytes(shade=200)
    photo_sha = hashlib.sha256(photo).hexdigest()
    assert worker.put(f"/api/v1/evidence/{photo_sha}.jpg", content=photo,
                      headers={"content-type": "image/jpeg"}).status_code == 201
    handled = worker.post(f"{actions}/handle", json={"reason": "done", "data": {"after_photo_sha256": photo_sha}})
    assert handled.status_code == 200
    assert httpx.get(handled.json()["after_photo_url"]).content == photo
    assert api_client(dispatcher, "l-017").get(f"/api/v1/evidence/{photo_sha}.jpg").status_code == 200
    assert api_client(dispatcher, "w-018").get(f"/api/v1/evidence/{photo_sha}.jpg").status_code == 403


def test_evidence_must_decode_as_a_jpeg_of_bounded_size(dispatcher: DispatcherThread) -> None:
    edge = api_client(dispatcher, machine="edge")

    def put(data: bytes) -> httpx.Response:
        return edge.put(f"/api/v1/evidence/{hashlib.sha256(data).hexdigest()}.jpg", content=data,
                        headers={"content-type": "image/jpeg"})

    whole = jpeg_bytes(640, 480)
    assert put(whole).status_code == 201
    truncated = put(whole[: len(whole) // 2])
    assert truncated.status_code == 422 and "not a whole JPEG image" in truncated.json()["detail"]
    magic_only = put(b"\xff\xd8\xff\xe0" + b"<script>alert(1)</script>" * 20)
    assert magic_only.status_code == 422 and "not a whole JPEG image" in magic_only.json()["detail"]
    wide = put(jpeg_bytes(9000, 8))
    assert wide.status_code == 422 and "9000x8 pixels" in wide.json()["detail"]


def test_reading_changes_nothing_seeing_is_said_with_a_post(dispatcher: DispatcherThread, mosquitto) -> None:
    case = open_case(dispatcher, mosquitto)
    worker, other, staff = api_client(dispatcher, "w-017"), api_client(dispatcher, "w-018"), api_client(dispatcher)
    inbox = worker.get("/api/v1/people/w-017/inbox").json()
    assert worker.get(f"/api/v1/cases/{case['id']}").status_code == 200
    assert staff.get("/api/v1/people/w-017/inbox").status_code == 200
    after = staff.get(f"/api/v1/cases/{case['id']}").json()
    assert after["delivered_at"] is None and "delivered" not in [t["action"] for t in after["timeline"]]
    assert worker.get("/api/v1/people/w-017/inbox").json()[0]["status"] == "unread"
    ids = {"notification_ids": [inbox[0]["notification_id"]]}
    assert other.post("/api/v1/people/w-017/inbox/seen", json=ids).status_code == 403
    assert staff.post("/api/v1/people/w-017/inbox/seen", json=ids).status_code == 403
    assert other.post("/api/v1/people/w-018/inbox/seen", json=ids).json() == {"seen": 0, "delivered": 0}
    assert other.post(f"/api/v1/cases/{case['id']}/seen").status_code == 403
    assert staff.post(f"/api/v1/cases/{case['id']}/seen").json() == {"delivered": False}  # not the assignee
    assert worker.post(f"/api/v1/cases/{case['id']}/seen").json() == {"delivered": True}
    assert worker.post("/api/v1/people/w-017/inbox/seen", json=ids).json() == {"seen": 1, "delivered": 0}
    assert worker.get("/api/v1/people/w-017/inbox").json()[0]["status"] == "read"
    timeline = staff.get(f"/api/v1/cases/{case['id']}").json()["timeline"]
    assert [t["reason"] for t in timeline if t["action"] == "delivered"] == ["opened by the assignee"]
