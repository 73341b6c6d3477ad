"""Channels to the phone: each person's chain is tried in order until one confirms delivery,
with retries, access tokens, robot signatures and rate limits; a case nobody could be
reached for escalates. A real dispatcher and Mosquitto; the messaging platforms are local
stand-ins that check what the real ones check (tests/providers.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from builders import api_client, case_for, dispatcher_config, publish_event, sample_event, wait_for
from providers import Providers

from contract import EventState, event_id_for, violation_id_for
from contract.configfile import ConfigError
from dispatcher.services import Services
from gridpatrol.data import PROJECT_ROOT
from gridpatrol.demo import DispatcherThread


def grid_file(tmp_path: Path, channels: dict[str, list[Any]]) -> Path:
    grid = yaml.safe_load((PROJECT_ROOT / "configs/grid.yaml").read_text())
    grid["areas_file"] = str(PROJECT_ROOT / "configs" / grid["areas_file"])
    for person in grid["people"]:
        if person["id"] in channels:
            person["channels"] = channels[person["id"]]
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(grid))
    return path


def start(tmp_path: Path, mosquitto, providers: Providers, channels: dict[str, list[Any]],
          **channel_overrides: Any) -> DispatcherThread:
    config = dispatcher_config(
        tmp_path, mosquitto.url, grid_file=grid_file(tmp_path, channels),
        channels=providers.channels_config(**channel_overrides), escalation={"poll_s": 0.2})
    thread = DispatcherThread(config)
    thread.start()
    return thread


def publish(mosquitto, n: int, micro_grid: str = "mg-017") -> str:
    """A violation on camera ``cam-<n>`` (its own spot); returns its violation id."""
    camera = f"cam-{n:03d}"
    vid = violation_id_for("box-01", camera, "z1", 3, datetime(2026, 5, 1, 8, 0, tzinfo=UTC))
    event = sample_event(camera_id=camera, violation_id=str(vid), micro_grid=micro_grid,
                         event_id=str(event_id_for(vid, EventState.opened)))
    publish_event(mosquitto, event)
    return str(vid)


def case_of(thread: DispatcherThread, violation_id: str) -> dict | None:
    staff = api_client(thread)
    found = case_for(staff, violation_id)
    return staff.get(f"/api/v1/cases/{found['id']}").json() if found else None


def delivered_case(thread: DispatcherThread, violation_id: str) -> dict:
    return wait_for(lambda: (c := case_of(thread, violation_id)) and c["delivered_at"] and c, 20, "delivery")


def statuses(case: dict) -> dict[str, str]:
    return {n["channel"]: n["status"] for n in case["notifications"]}


def test_chain_falls_back_until_a_channel_confirms(tmp_path: Path, mosquitto, providers: Providers) -> None:
    chain = ["webpush", {"type": "wecom_app", "user_id": "NotInWeCom"},
             {"type": "dingtalk_app", "user_id": "zhangwei01"}, "sms"]
    thread = start(tmp_path, mosquitto, providers, {"w-017": chain})
    try:
        case = delivered_case(thread, publish(mosquitto, 1))
    finally:
        thread.stop()
    # No phone subscribed to Web Push: that place has no row. WeCom does not know the user id
    # (no retry: it would not help); DingTalk took it for the person; SMS was never needed.
    assert statuses(case) == {"inbox": "unread", "wecom_app": "failed", "dingtalk_app": "delivered",
                              "sms": "skipped"}
    wecom = next(n for n in case["notifications"] if n["channel"] == "wecom_app")
    assert wecom["attempts"] == 1 and "81013" in wecom["detail"]
    assert [r.to for r in providers.to("dingtalk_app")] == ["zhangwei01"]
    sent = providers.to("dingtalk_app")[0].body
    assert sent["agent_id"] == 2000001 and sent["msg"]["link"]["messageUrl"].endswith(f"?case={case['id']}")
    assert providers.to("sms") == []
    delivered = [t for t in case["timeline"] if t["action"] == "delivered"]
    assert len(delivered) == 1 and delivered[0]["reason"] == "a channel confirmed delivery"
    assert not [t for t in case["timeline"] if t["action"] == "escalate"]


def test_app_access_tokens_are_cached_and_refreshed(tmp_path: Path, mosquitto, providers: Providers) -> None:
    thread = start(tmp_path, mosquitto, providers, {"w-017": [{"type": "wecom_app", "user_id": "ZhangWei"}]})
    try:
        for n in (1, 2):
            delivered_case(thread, publish(mosquitto, n))
        assert providers.token_fetches["wecom"] == 1  # one token for both messages
        providers.expire_wecom_token_once = True  # WeCom answers 42001 (expired) once
        case = delivered_case(thread, publish(mosquitto, 3))
    finally:
        thread.stop()
    assert providers.token_fetches["wecom"] == 2 and statuses(case)["wecom_app"] == "delivered"
    assert [r.to for r in providers.to("wecom_app")] == ["ZhangWei"] * 3
    # a card in the town's words, with the snapshot (a signed link) and a deadline in local time
    card = providers.to("wecom_app")[0].body
    article = card["news"]["articles"][0]
    assert card["msgtype"] == "news" and article["title"] == "非机动车乱停放（0506）"
    assert re.search(r"请于\d{1,2}月\d{1,2}日 \d\d:\d\d前受理$", article["description"]), article  # not yet accepted
    assert "/api/v1/evidence/" in article["picurl"] and "sig=" in article["picurl"]


def test_group_robots_sign_mention_and_keep_their_rate(tmp_path: Path, mosquitto, providers: Providers) -> None:
    chains = {"w-017": [{"type": "robot", "name": "east-wecom"}, {"type": "robot", "name": "east-ding"}],
              "w-018": [{"type": "robot", "name": "east-feishu"}]}
    robots = providers.channels_config()["robots"]
    robots["east-wecom"]["per_minute"] = 1  # our own ceiling: the second message must go elsewhere
    thread = start(tmp_path, mosquitto, providers, chains, robots=robots, rate_wait_s=0)
    try:
        first = delivered_case(thread, publish(mosquitto, 1))
        second = delivered_case(thread, publish(mosquitto, 2))
        third = delivered_case(thread, publish(mosquitto, 3, micro_grid="mg-018"))
    finally:
        thread.stop()
    assert providers.refused == []  # every signature checked out
    robot_rows = [(n["address"], n["status"]) for n in first["notifications"] if n["channel"] == "robot"]
    assert robot_rows == [("robot:east-wecom", "delivered"), ("robot:east-ding", "skipped")]
    assert [r.to for r in providers.to("wecom_robot")] == ["+86 138 0000 0017"]  # mentioned by mobile
    limited = [n for n in second["notifications"] if n["channel"] == "robot"]
    assert [n["status"] for n in limited] == ["failed", "delivered"]
    assert "limit of 1 messages a minute" in limited[0]["detail"]
    assert [r.to for r in providers.to("dingtalk_robot")] == ["+86 138 0000 0017"]
    assert statuses(third)["robot"] == "delivered" and len(providers.to("feishu_robot")) == 1
    assert f"?case={third['id']}" in providers.to("feishu_robot")[0].body["content"]["text"]


def test_a_case_nobody_could_be_told_of_escalates(tmp_path: Path, mosquitto, providers: Providers) -> None:
    providers.sms_status = 503
    chains = {"w-017": ["sms"], "w-019": [{"type": "webhook", "name": "ops"}]}
    thread = start(tmp_path, mosquitto, providers, chains)
    try:
        vid = publish(mosquitto, 1)
        case = wait_for(lambda: (c := case_of(thread, vid)) and c["assignee_id"] == "w-019" and c["delivered_at"]
                        and c, 20, "escalation to the stand-in, and delivery to them")
    finally:
        thread.stop()
    sms = next(n for n in case["notifications"] if n["channel"] == "sms")
    assert (sms["status"], sms["attempts"], sms["person_id"]) == ("failed", 2, "w-017")
    escalation = next(t for t in case["timeline"] if t["action"] == "escalate")
    assert escalation["reason"] == "no channel reached the assignee" and escalation["data"]["stand_in"]
    assert [r.to for r in providers.to("webhook")] == ["w-019"]
    assert providers.to("webhook")[0].body["case_id"] == case["id"]


def test_sms_with_delivery_reports_waits_for_the_receipt(tmp_path: Path, mosquitto, providers: Providers) -> None:
    providers.sms_receipts = True
    # an approved template's variables, as Chinese gateways take them
    sms = providers.channels_config()["sms"] | {"confirm": "receipt", "body": {
        "to": "{phone}", "callback": "{receipt_url}", "TemplateCode": "SMS_123456789",
        "TemplateParam": {"kind": "{kind}", "place": "{place}", "deadline": "{deadline}", "no": "{case_id}"}}}
    chain = ["sms", {"type": "wecom_app", "user_id": "ZhangWei"}]
    thread = start(tmp_path, mosquitto, providers, {"w-017": chain}, sms=sms, confirm_wait_s=30)
    try:
        case = delivered_case(thread, publish(mosquitto, 1))
    finally:
        thread.stop()
    assert statuses(case) == {"inbox": "unread", "sms": "delivered", "wecom_app": "skipped"}
    assert [r.to for r in providers.to("sms")] == ["+86 138 0000 0017"]
    assert providers.to("wecom_app") == []
    params = providers.to("sms")[0].body["TemplateParam"]
    assert (params["kind"], params["place"], params["no"]) == ("非机动车乱停放", "mg-017 东街3号网格", str(case["id"]))
    assert re.fullmatch(r"\d{1,2}月\d{1,2}日 \d\d:\d\d", params["deadline"]), params


def test_a_grid_naming_an_unconfigured_channel_refuses_to_start(tmp_path: Path, mosquitto) -> None:
    config = dispatcher_config(tmp_path, mosquitto.url, grid_file=grid_file(
        tmp_path, {"w-018": ["webpush", {"type": "robot", "name": "nowhere"}]}))
    with pytest.raises(ConfigError, match=r"people\[w-018\]\.channels\[1\] \(robot\): no robot 'nowhere'"):
        Services.build(config)


@pytest.mark.parametrize(("sender", "answer", "retry"), [
    ("wecom_app", {"errcode": 45009, "errmsg": "api freq out of limit"}, True),
    ("wecom_app", {"errcode": -1, "errmsg": "system busy"}, True),
    ("wecom_app", {"errcode": 60020, "errmsg": "not allow to access from your ip"}, False),
    ("dingtalk_app", {"errcode": 90018, "errmsg": "too many calls"}, True),
    ("dingtalk_app", {"errcode": 33012, "errmsg": "invalid userid"}, False),
    ("wecom_robot", {"errcode": 45009, "errmsg": "api freq out of limit"}, True),
    ("wecom_robot", {"errcode": -1, "errmsg": "system busy"}, False),
    ("dingtalk_robot", {"errcode": 130101, "errmsg": "send too fast"}, True),
    ("feishu_robot", {"code": 9499, "msg": "too many request"}, True),
    ("feishu_robot", {"code": 19021, "msg": "sign match fail"}, False),
])
def test_a_platforms_refusal_is_retried_only_when_waiting_helps(sender: str, answer: dict, retry: bool) -> None:
    """Each platform's own codes: rate limits (and an app's "system busy") are tried again,
    anything else is not; the platform's message goes to the detail (the log), with its code."""
    import httpx
    from http_receiver import Receiver

    from dispatcher.channels.base import AccessTokenCache, Message
    from dispatcher.channels.dingtalk import DingTalkApp, DingTalkRobot
    from dispatcher.channels.feishu import FeishuRobot
    from dispatcher.channels.wecom import WeComApp, WeComRobot
    from dispatcher.config import DingTalkAppConfig, WeComAppConfig

    platform = Receiver(respond=lambda request: (200, answer, {}))
    tokens = AccessTokenCache(lambda: ("token", 7200.0))
    with httpx.Client(timeout=5) as http:
        channel = {
            "wecom_app": lambda: WeComApp(WeComAppConfig(corp_id="c", corp_secret="s", agent_id=1,
                                                         base_url=platform.url), http, "w-017", tokens),
            "dingtalk_app": lambda: DingTalkApp(DingTalkAppConfig(app_key="k", app_secret="s", agent_id=1,
                                                                  base_url=platform.url), http, "w-017", tokens),
            "wecom_robot": lambda: WeComRobot(platform.url, http, None),
            "dingtalk_robot": lambda: DingTalkRobot(platform.url, "SEC", http, None),
            "feishu_robot": lambda: FeishuRobot(platform.url, None, http, None),
        }[sender]()
        result = channel.send(Message(1, "非机动车乱停放", "东街3号", "https://town.example/c/1",
                                      "https://town.example/r/1"))
    platform.close()
    assert len(platform.received) == 1 and not result.ok and result.retry is retry
    assert str(answer.get("errcode", answer.get("code"))) in result.detail
