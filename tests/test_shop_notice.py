"""Shop owners told first (cross-door trading): a shop front with a registered owner gets a
rectification notice by SMS and a grace period before any worker is sent; the camera seeing
the strip clear in time closes the case as put right by the shop; otherwise, or for a repeat
offence, a worker is dispatched. A real dispatcher, Mosquitto and the SMS gateway stand-in."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from builders import api_client, dispatcher_config, publish_event, sample_event, wait_for
from providers import Providers

from contract import EventState, event_id_for
from gridpatrol.demo import DispatcherThread


def shop_front(state: EventState = EventState.opened, violation_id: str | None = None) -> dict:
    """Goods outside 鲜果12号 (shop-0012 of the example grid, its owner 王军 with a phone)."""
    vid = violation_id or str(uuid.uuid4())
    return sample_event(violation_id=vid, event_id=str(event_id_for(uuid.UUID(vid), state)), state=state.value,
                        kind="cross_door_trading", zone_id="shop-0012-front", shop_id="shop-0012",
                        objects=[{"class_name": "chair", "confidence": 0.8, "bbox": [100, 200, 180, 300],
                                  "track_id": 1}])


def started(tmp_path: Path, mosquitto, providers: Providers, grace_min: float) -> DispatcherThread:
    config = dispatcher_config(tmp_path, mosquitto.url, channels=providers.channels_config(),
                               shops={"grace_min": grace_min}, escalation={"poll_s": 0.2})
    thread = DispatcherThread(config)
    thread.start()
    return thread


def case_of(thread: DispatcherThread, violation_id: str) -> dict | None:
    staff = api_client(thread)
    found = [c for c in staff.get("/api/v1/cases").json() if c["violation_id"] == violation_id]
    return staff.get(f"/api/v1/cases/{found[0]['id']}").json() if found else None


def test_the_owner_is_told_first_and_putting_it_right_closes_the_case(tmp_path: Path, mosquitto,
                                                                        providers: Providers) -> None:
    thread = started(tmp_path, mosquitto, providers, grace_min=15)
    try:
        opened = shop_front()
        publish_event(mosquitto, opened)
        case = wait_for(lambda: (c := case_of(thread, opened["violation_id"])) and c["state"] == "owner_notified"
                        and providers.to("sms") and c, 15, "the owner's notice")
        notice = providers.to("sms")[0]
        assert notice.to == "+86 139 0000 0012"
        expected = (r"整改通知: 监控发现鲜果12号门前存在跨门经营行为，"
                    r"请于\d{1,2}月\d{1,2}日 \d\d:\d\d前自行整改，逾期将派网格员现场处置。 \S+")
        assert re.fullmatch(expected, notice.body["text"]), notice.body
        assert "/api/v1/evidence/" in notice.body["text"]  # the snapshot, a signed link
        assert not [n for n in case["notifications"] if not n["person_id"].startswith("shop:")]  # no worker yet
        assert case["assignee_id"] is None and case["timeline"][-1]["action"] == "notify_owner"
        publish_event(mosquitto, shop_front(EventState.cleared, opened["violation_id"]))  # the goods go back in
        closed = wait_for(lambda: (c := case_of(thread, opened["violation_id"])) and c["state"] == "closed" and c,
                          15, "put right by the shop")
        assert closed["timeline"][-1]["action"] == "self_correct" and closed["worker_id"] == "w-017"
        month = closed["opened_at"][:7]
        row = api_client(thread).get("/api/v1/assessment", params={"month": month}).json()[0]
        assert row["self_corrected"] == 1 and row["cases"] == 1

        again = shop_front()  # the same shop front again: a repeat offence, a worker at once
        publish_event(mosquitto, again)
        repeat = wait_for(lambda: (c := case_of(thread, again["violation_id"])) and c["state"] == "dispatched" and c,
                          15, "the repeat dispatched")
        assert repeat["repeat_count"] == 1 and repeat["assignee_id"] == "w-017"
        assert len(providers.to("sms")) == 1  # no second notice
    finally:
        thread.stop()


def test_a_worker_is_sent_when_the_grace_ends_with_the_goods_still_out(tmp_path: Path, mosquitto,
                                                                        providers: Providers) -> None:
    thread = started(tmp_path, mosquitto, providers, grace_min=0.03)  # 1.8 s
    try:
        opened = shop_front()
        publish_event(mosquitto, opened)
        case = wait_for(lambda: (c := case_of(thread, opened["violation_id"])) and c["state"] == "dispatched" and c,
                        20, "dispatched after the grace")
        steps = [t["action"] for t in case["timeline"]]
        assert steps[:3] == ["report", "notify_owner", "dispatch"], steps
        assert case["timeline"][2]["reason"] == "the shop did not put it right within the grace period"
        assert case["assignee_id"] == "w-017" and providers.to("sms")  # told, then a worker sent
    finally:
        thread.stop()


def test_no_grace_dispatches_at_once(tmp_path: Path, mosquitto, providers: Providers) -> None:
    thread = started(tmp_path, mosquitto, providers, grace_min=0)
    try:
        opened = shop_front()
        publish_event(mosquitto, opened)
        wait_for(lambda: (c := case_of(thread, opened["violation_id"])) and c["state"] == "dispatched", 15,
                 "dispatched at once")
        assert providers.to("sms") == []
    finally:
        thread.stop()
