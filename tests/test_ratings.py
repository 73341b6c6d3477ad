"""Residents rate (dispatcher/ratings.py): a leader invites them with a one-time, expiring link;
the resident answers with no account; one answer per link; wrong links are limited; the rating
says where it came from. A real dispatcher over HTTP."""

from __future__ import annotations

from datetime import timedelta

import httpx
from builders import api_client, open_case
from sqlalchemy import update

from dispatcher.db import CaseRow, RatingLinkRow, now
from gridpatrol.demo import DispatcherThread


def verified_case(dispatcher: DispatcherThread, mosquitto) -> int:
    """A camera's case the worker handled and the leader verified on site."""
    case = open_case(dispatcher, mosquitto)
    cases = dispatcher.services.cases
    cases.act(case["id"], "accept", "w-017")
    cases.act(case["id"], "handle", "w-017", reason="moved to the rack")
    cases.act(case["id"], "verify", "l-017", reason="seen on site")
    return case["id"]


def resident(thread: DispatcherThread, token: str) -> httpx.Client:
    """A resident's phone: no login, the link's secret in its header, in Chinese."""
    return httpx.Client(base_url=thread.url, timeout=10, headers={"x-rating-token": token,
                                                                  "accept-language": "zh-CN"})


def test_a_resident_rates_once_through_the_leaders_link(dispatcher: DispatcherThread, mosquitto) -> None:
    case_id = verified_case(dispatcher, mosquitto)
    leader = api_client(dispatcher, "l-017")
    made = leader.post(f"/api/v1/cases/{case_id}/rating-links")
    assert made.status_code == 201, made.text
    invitation = made.json()
    assert invitation["url"].startswith(f"{dispatcher.url}/rate/#t=")  # the secret in the fragment
    assert invitation["qr_svg"].startswith("data:image/svg+xml")
    token = invitation["url"].split("#t=")[1]
    phone = resident(dispatcher, token)
    shown = phone.get("/api/v1/rating").json()
    assert (shown["kind"], shown["micro_grid"]) == ("parked_bike", "mg-017")
    assert shown["before_url"] and httpx.get(shown["before_url"]).status_code in (200, 404)  # a signed link
    answer = phone.post("/api/v1/rating", json={"answer": "basically_satisfied", "comment": "挪走了，很好"})
    assert answer.status_code == 200 and answer.json() == {"rated": 3}
    case = api_client(dispatcher).get(f"/api/v1/cases/{case_id}").json()
    assert (case["state"], case["rating"], case["rating_source"], case["rating_comment"]) == (
        "rated", 3, "resident", "挪走了，很好")
    assert case["timeline"][-1]["actor_role"] == "resident"
    again = phone.post("/api/v1/rating", json={"answer": "dissatisfied"})
    assert again.status_code == 410 and again.json()["detail"] == "此链接已评价过，谢谢"  # one answer per link
    assert api_client(dispatcher).get(f"/api/v1/cases/{case_id}").json()["rating"] == 3


def test_who_may_invite_and_when(dispatcher: DispatcherThread, mosquitto) -> None:
    case_id = open_case(dispatcher, mosquitto)["id"]
    assert api_client(dispatcher, "l-017").post(f"/api/v1/cases/{case_id}/rating-links").status_code == 409
    assert api_client(dispatcher, "w-017").post(f"/api/v1/cases/{case_id}/rating-links").status_code == 403
    assert api_client(dispatcher, "l-018").post(f"/api/v1/cases/{case_id}/rating-links").status_code == 403
    assert httpx.post(f"{dispatcher.url}/api/v1/cases/{case_id}/rating-links").status_code == 401


def test_expired_and_guessed_links_are_refused_and_guessing_is_limited(dispatcher: DispatcherThread,
                                                                       mosquitto) -> None:
    case_id = verified_case(dispatcher, mosquitto)
    token = api_client(dispatcher).post(f"/api/v1/cases/{case_id}/rating-links").json()["url"].split("#t=")[1]
    with dispatcher.services.sessions() as s:
        s.execute(update(RatingLinkRow).values(expires_at=now() - timedelta(minutes=1)))
        s.commit()
    expired = resident(dispatcher, token).post("/api/v1/rating", json={"score": 5})
    assert expired.status_code == 410 and expired.json()["detail"] == "此链接已过期"
    assert resident(dispatcher, token).get("/api/v1/rating").status_code == 410
    answers = [resident(dispatcher, f"guess-{n:012d}").get("/api/v1/rating").status_code for n in range(8)]
    assert answers[:3] == [410] * 3 and answers[-1] == 429, answers  # the address is held back
    assert resident(dispatcher, "short").get("/api/v1/rating").status_code == 422  # bounded
    with dispatcher.services.sessions() as s:
        assert s.get(CaseRow, case_id).rating is None


def test_a_rating_taken_by_phone_is_marked_as_such(dispatcher: DispatcherThread, mosquitto) -> None:
    case_id = verified_case(dispatcher, mosquitto)
    rated = api_client(dispatcher).post(f"/api/v1/cases/{case_id}/actions/rate", json={"data": {"rating": 4}})
    assert rated.status_code == 200 and (rated.json()["rating"], rated.json()["rating_source"]) == (4, "phone")
    sneaky = api_client(dispatcher).post(f"/api/v1/cases/{case_id}/actions/close",
                                         json={"data": {"source": "resident"}})
    assert sneaky.status_code == 422  # nobody says "the resident" through the API


def test_the_link_is_texted_to_a_resident(tmp_path, mosquitto, providers) -> None:
    """Each resident their own link, by SMS through the town's gateway."""
    from builders import dispatcher_config

    thread = DispatcherThread(dispatcher_config(tmp_path, mosquitto.url, channels=providers.channels_config()))
    thread.start()
    try:
        case_id = verified_case(thread, mosquitto)
        made = api_client(thread, "l-017").post(f"/api/v1/cases/{case_id}/rating-links",
                                                json={"send_to": "+86 138 0000 0099"})
        assert made.status_code == 201 and made.json()["sent"] is True
        text = providers.to("sms")[-1]
        assert text.to == "+86 138 0000 0099" and made.json()["url"] in text.body["text"]
        assert text.body["text"].startswith("处置满意度评价: 您身边的非机动车乱停放问题已处置，请点击链接评价")
        bad = api_client(thread, "l-017").post(f"/api/v1/cases/{case_id}/rating-links", json={"send_to": "call me"})
        assert bad.status_code == 422
    finally:
        thread.stop()


def test_true_is_no_score(dispatcher: DispatcherThread, mosquitto) -> None:
    case_id = verified_case(dispatcher, mosquitto)
    token = api_client(dispatcher).post(f"/api/v1/cases/{case_id}/rating-links").json()["url"].split("#t=")[1]
    assert resident(dispatcher, token).post("/api/v1/rating", json={"score": True}).status_code == 422
    assert resident(dispatcher, token).post("/api/v1/rating", json={"score": 4}).status_code == 200
