"""Chinese first: one catalogue for everything people read, the town's words for the codes,
local times as people there write them, captions drawn in a CJK font, and errors in the
reader's language."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from builders import api_client

from contract import CameraState, ViolationKind
from dispatcher.grid import Person
from dispatcher.lifecycle import RULES, CaseState, Role
from i18n import Msg, negotiate, translator
from i18n.extract import extract
from i18n.terms import TERMS, term, word
from i18n.timefmt import age, full_time, short_time, stamp

PLACEHOLDER = re.compile(r"\{(\w*)\}")


def test_every_message_in_code_and_pages_has_its_zh_cn_entry() -> None:
    """Extracted from Python (_ / N_ / Msg), the pages' scripts (t) and HTML (data-t*): each
    message has a translation in the zh-CN catalogue with the same {fields}."""
    found = extract()
    assert len(found) > 200, len(found)  # the extractor reaches the code and the pages
    zh = translator("zh-CN").messages()
    missing = sorted(m for m in found if not zh.get(m))
    assert missing == [], f"no zh-CN entry (run `make messages`, then translate): {missing}"
    for msgid, text in zh.items():
        assert set(PLACEHOLDER.findall(msgid)) == set(PLACEHOLDER.findall(text)), (msgid, text)
    for group in TERMS.values():  # the town's words are Chinese, not the English left in place
        assert all(re.search(r"[\u4e00-\u9fff]", zh[msgid]) for msgid in group.values() if msgid != "Webhook")


def test_the_towns_words_cover_every_code() -> None:
    zh = translator("zh-CN")
    assert {k.value for k in ViolationKind} <= set(TERMS["kind"])
    assert {s.value for s in CaseState} <= set(TERMS["state"])
    assert set(RULES) | {"report", "join", "delivered"} <= set(TERMS["action"])
    assert {r.value for r in Role} | set(Person.model_fields["role"].annotation.__args__) <= set(TERMS["role"])
    assert {s.value for s in CameraState} <= set(TERMS["camera_state"])
    # the terms a Chinese urban-management platform uses
    assert [term(zh, "kind", k) for k in ("parked_bike", "cross_door_trading")] == ["非机动车乱停放", "跨门经营"]
    assert [term(zh, "state", s) for s in ("dispatched", "accepted", "handled", "verified", "rated", "closed",
                                           "rework", "void", "consult")] == [
        "已派遣", "已受理", "已处置", "已核查", "已评价", "已结案", "返工", "作废", "会商中"]
    assert [term(zh, "role", r) for r in ("worker", "leader", "department")] == ["微网格员", "微网格长", "条线部门"]
    assert term(translator("en"), "state", "dispatched") == "Dispatched"


def test_a_message_for_people_reads_in_each_language() -> None:
    refused = Msg("cannot {action} a case that is {state} (only from: {allowed})", action=word("action", "handle"),
                  state=word("state", "dispatched"), allowed="x")
    assert str(refused) == "cannot handle a case that is dispatched (only from: x)"  # English: the codes
    assert translator("zh-CN").msg(refused) == "案件状态为“已派遣”，不能“处置”（仅限：x）"
    assert translator("en").msg(refused) == str(refused)
    assert translator("zh-CN").msg("text no catalogue knows") == "text no catalogue knows"


@pytest.mark.parametrize(("header", "expected"), [
    (None, "zh-CN"), ("", "zh-CN"), ("zh", "zh-CN"), ("zh-Hans-CN", "zh-CN"), ("en-GB,en;q=0.9", "en"),
    ("fr-FR, en;q=0.5, zh;q=0.8", "zh-CN"), ("de", "zh-CN"), ("en;q=0", "zh-CN"), ("x" * 10_000, "zh-CN"),
])
def test_the_language_asked_for(header: str | None, expected: str) -> None:
    assert negotiate(header) == expected


def test_times_are_local_and_written_as_people_there_write_them() -> None:
    at = datetime(2026, 12, 4, 1, 58, 46, tzinfo=UTC)  # 09:58:46 in Beijing
    assert short_time(at, "Asia/Shanghai", "zh-CN") == "12月4日 09:58"
    assert full_time(at, "Asia/Shanghai", "zh-CN") == "2026年12月4日 09:58:46"
    assert short_time(at, "Asia/Shanghai", "en") == "4 Dec 09:58"
    assert stamp(at, "Asia/Shanghai") == "2026-12-04 09:58:46"
    assert short_time(at.replace(tzinfo=None), "Asia/Shanghai", "zh-CN") == "12月4日 09:58"  # naive is UTC
    assert age(at - timedelta(minutes=3), at, "zh-CN") == "3分钟前"
    assert age(at - timedelta(hours=2), at, "en") == "2 hours ago"


def test_evidence_captions_are_drawn_in_chinese_with_a_cjk_font() -> None:
    """The caption reads like the towns' platforms write it, and each Chinese character is its
    own glyph (a font without them draws the same empty box for every one)."""
    from builders import violation_event
    from PIL import Image, ImageDraw, ImageFont

    from edge.caption import Captioner, cjk_font

    font = cjk_font()
    assert font is not None, "no CJK font: `make test` installs fonts-wqy-microhei"
    captioner = Captioner("zh-CN", "Asia/Shanghai")
    event = violation_event(observed_at="2026-12-04T01:58:01Z", started_at="2026-12-04T01:53:01Z", dwell_s=300.0,
                            camera_id="cam-017")
    text = captioner.text(event, "东街3号")
    assert text == "2026-12-04 09:58:01 非机动车乱停放 东街3号 cam-017 · 发现 · 已停留 5 分钟"

    def glyph(char: str) -> bytes:
        image = Image.new("L", (40, 40))
        ImageDraw.Draw(image).text((4, 4), char, font=ImageFont.truetype(str(font), 28), fill=255)
        return image.tobytes()

    assert len({glyph(c) for c in "非机动车乱停放"}) == 7  # seven characters, seven glyphs
    drawn = captioner.draw(np.full((480, 640, 3), 90, np.uint8), text)
    strip = drawn[:16]
    assert (strip.max(axis=2) > 200).mean() > 0.02 and (drawn[40:] == 90).all()  # white text on the strip only
    wide = captioner.draw(np.zeros((120, 160, 3), np.uint8), text)  # a small frame: smaller text, never cut
    assert wide.shape == (120, 160, 3)


def test_without_a_cjk_font_the_caption_is_english_and_says_why(caplog: pytest.LogCaptureFixture, tmp_path) -> None:
    from builders import violation_event

    from edge.caption import Captioner, cjk_font

    cjk_font.cache_clear()
    try:
        captioner = Captioner("zh-CN", "Asia/Shanghai", tmp_path / "no-such-font.ttc")
    finally:
        cjk_font.cache_clear()
    assert "install fonts-wqy-microhei" in caplog.text and "no-such-font" in caplog.text
    assert "Non-motor vehicle parked illegally" in captioner.text(violation_event(), None)


def test_the_pages_words_and_errors_for_people_come_in_the_readers_language(dispatcher) -> None:
    api = api_client(dispatcher)
    api.headers.pop("accept-language", None)
    words = api.get("/api/v1/i18n").json()  # the town's language by default
    assert (words["locale"], words["timezone"]) == ("zh-CN", "Asia/Shanghai")
    assert words["terms"]["state"]["dispatched"] == "已派遣" and words["event_codes"]["parked_bike"] == "0506"
    assert words["messages"]["Log in"] == "登录"
    english = api.get("/api/v1/i18n", params={"locale": "en"}).json()
    assert english["locale"] == "en" and english["terms"]["state"]["dispatched"] == "Dispatched"
    assert api.get("/api/v1/i18n", params={"locale": "x" * 36}).status_code == 422  # bounded
    missing = api.get("/api/v1/cases/999999").json()["detail"]
    assert missing == "案件 999999 不存在"
    missing = api.get("/api/v1/cases/999999", headers={"accept-language": "en-US"}).json()["detail"]
    assert missing == "no case 999999"
    login = api.post("/api/v1/auth/login", json={"person_id": "w-017", "password": "wrong-password"})
    assert login.status_code == 401 and login.json()["detail"] == "账号或密码错误"


def test_a_notice_reads_in_the_towns_words_and_local_time() -> None:
    """What the worker's phone shows (push, WeCom/DingTalk cards, SMS variables)."""
    from dispatcher.db import CaseRow
    from dispatcher.notify import message_for

    case = CaseRow(id=42, kind="parked_bike", event_code="0506", camera_id="cam-017", zone_id="z1",
                   micro_grid="mg-017", dwell_s=300.0, started_at=datetime(2026, 12, 4, 1, 53, tzinfo=UTC),
                   opened_at=datetime(2026, 12, 4, 1, 58, tzinfo=UTC),
                   handle_due_at=datetime(2026, 12, 4, 5, 58, tzinfo=UTC))
    notice = message_for(case, "https://town.example", "https://town.example/r", translator("zh-CN"),
                         "Asia/Shanghai", "东街3号网格", "https://town.example/api/v1/evidence/a.jpg?sig=x")
    assert notice.title == "非机动车乱停放（0506）"
    assert notice.body == "mg-017 东街3号网格 · 摄像头 cam-017 区域 z1 · 12月4日 09:53 起停放，请于12月4日 13:58前处置"
    assert notice.open_label == "查看详情" and notice.image_url.endswith("sig=x")
    assert notice.fields == {"kind": "非机动车乱停放", "code": "0506", "place": "mg-017 东街3号网格",
                             "camera": "cam-017", "since": "12月4日 09:53", "deadline": "12月4日 13:58",
                             "case_id": "42"}
    english = message_for(case, "https://town.example", "r", translator("en"), "Asia/Shanghai")
    assert english.title == "Non-motor vehicle parked illegally (0506)" and "4 Dec 13:58" in english.body


def test_the_city_platform_gets_a_summary_in_the_towns_words() -> None:
    from dispatcher.cases.views import city_payload

    payload = city_payload("case.opened", {"kind": "cross_door_trading", "event_code": "0504", "state": "dispatched",
                                           "micro_grid": "mg-017", "camera_id": "cam-017", "zone_id": "front",
                                           "opened_at": datetime(2026, 12, 4, 1, 58, tzinfo=UTC)},
                           translator("zh-CN"), "Asia/Shanghai")
    assert payload["summary"] == "跨门经营（0504） · mg-017 · cam-017/front · 已派遣 · 12月4日 09:58"
    assert payload["case"]["opened_at"] == "2026-12-04T01:58:00+00:00"  # machine fields stay UTC


def test_a_system_reason_keeps_its_words_for_the_pages() -> None:
    """The audit trail keeps a system reason as msgid and values, a code among them as its
    word's msgid, so each page shows it in its reader's language."""
    from dispatcher.cases.core import said

    kept = said(Msg("{timer} deadline passed; nobody further up to escalate to", timer=word("timer", "accept")))
    assert kept == {"msgid": "{timer} deadline passed; nobody further up to escalate to",
                    "values": {"timer": {"t": "Acceptance"}}}
    zh = translator("zh-CN")
    assert zh._(kept["msgid"], timer=zh._(kept["values"]["timer"]["t"])) == "受理期限已过；已无更上一级可上报"
