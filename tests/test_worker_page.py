"""The phone pages in a real browser: the worker's, leader's and line department's page
(offline, installable, patrol reports), and the resident's rating page. Screenshots in
test-artifacts/screenshots/."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from builders import api_client, publish_event, sample_event, wait_for
from pages import SHOTS, log_in, open_console, publish

from contract import EventState, event_id_for, violation_id_for
from gridpatrol.demo import DispatcherThread


def test_the_worker_page_works_offline_and_keeps_what_was_done_until_the_network_is_back(
        dispatcher: DispatcherThread, mosquitto, browser) -> None:
    """Offline for real: the page opens with no signal (the service worker keeps its files and
    the last case list), an action taken then waits in IndexedDB, survives the app being closed,
    and is sent when the network is back."""
    dispatcher.services.auth.set_password("w-017", "worker-pass-1")
    publish(mosquitto, dispatcher, EventState.opened)
    staff = api_client(dispatcher)
    case_id = wait_for(lambda: staff.get("/api/v1/cases").json(), 15, "the case")[0]["id"]
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    phone = context.new_page()
    log_in(phone, f"{dispatcher.url}/worker/", "w-017", "worker-pass-1")
    phone.wait_for_selector(f".case[data-case-id='{case_id}']", timeout=15000)
    phone.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=15000)
    phone.reload()  # the page's reads now pass the service worker, which keeps the last answers
    phone.wait_for_selector(f".case[data-case-id='{case_id}']", timeout=15000)

    context.set_offline(True)
    phone.reload()  # no signal: the page and the last case list still open
    phone.wait_for_selector(f".case[data-case-id='{case_id}']", timeout=15000)
    assert "非机动车乱停放" in phone.inner_text(f".case[data-case-id='{case_id}']")
    phone.click(f".case[data-case-id='{case_id}'] button:text('受理')")  # found again if the list re-renders
    phone.wait_for_selector("#queue:text('1 个操作尚未提交')", timeout=10000)
    phone.wait_for_selector("#status:text('当前无网络')", timeout=10000)
    phone.close()  # the app is closed with the action unsent
    assert staff.get(f"/api/v1/cases/{case_id}").json()["state"] == "dispatched"

    again = context.new_page()
    again.goto(f"{dispatcher.url}/worker/")  # still offline: opened again, the action still waiting
    again.wait_for_selector("#queue:text('1 个操作尚未提交')", timeout=15000)
    context.set_offline(False)
    wait_for(lambda: staff.get(f"/api/v1/cases/{case_id}").json()["state"] == "accepted", 20,
             "the queued accept to reach the dispatcher")
    again.wait_for_function("() => document.querySelector('#queue').textContent === ''", timeout=15000)
    context.close()


def test_the_phone_page_installs_in_chinese_with_its_icons(dispatcher: DispatcherThread) -> None:
    """What Android Chrome and iOS Safari read to install the page: a Chinese manifest with a
    192 and a 512 px icon (and a maskable one), an apple-touch icon, a Chinese title."""
    import io

    import httpx
    from PIL import Image

    base = f"{dispatcher.url}/worker/"
    manifest = httpx.get(base + "manifest.webmanifest").json()
    assert manifest["lang"] == "zh-CN" and manifest["short_name"] == "网格巡查" and manifest["display"] == "standalone"
    sizes = {}
    for icon in manifest["icons"]:
        picture = Image.open(io.BytesIO(httpx.get(base + icon["src"]).content))
        assert picture.format == "PNG" and f"{picture.width}x{picture.height}" == icon["sizes"], icon
        sizes.setdefault(icon["purpose"], []).append(picture.width)
    assert sizes == {"any": [192, 512], "maskable": [512]}
    page = httpx.get(base).text
    assert '<html lang="zh-CN">' in page and 'rel="apple-touch-icon"' in page and 'rel="manifest"' in page
    touch = Image.open(io.BytesIO(httpx.get(base + "icons/apple-touch-icon.png").content))
    assert touch.size == (180, 180) and touch.mode == "RGB"  # iOS draws no transparency


def test_a_resident_rates_on_their_phone_from_the_consoles_qr_code(dispatcher: DispatcherThread, mosquitto,
                                                                      browser, shared: Path) -> None:
    """The dispatcher (or the leader on site) shows the QR code; the resident opens the link on
    their own phone, in Chinese, sees the camera's pictures, answers 满意 with a comment, once."""
    publish(mosquitto, dispatcher, EventState.opened, (shared / "media/images/carpark-1920x1080.jpg").read_bytes(),
            before=(shared / "media/images/bus.jpg").read_bytes())
    staff = api_client(dispatcher)
    case_id = wait_for(lambda: staff.get("/api/v1/cases").json(), 15, "the case")[0]["id"]
    cases = dispatcher.services.cases
    cases.act(case_id, "accept", "w-017")
    cases.act(case_id, "handle", "w-017", reason="moved to the rack")
    cases.act(case_id, "verify", "l-017", reason="seen on site")

    console = open_console(browser, dispatcher)
    console.click(f"#feed tr[data-case-id='{case_id}']")
    console.click("#case button:text('邀请居民评价')")
    qr = console.wait_for_selector("#case .invite img.qr", timeout=10000)
    console.wait_for_function("() => document.querySelector('#case .invite img.qr').naturalWidth > 100", timeout=5000)
    assert qr.get_attribute("src").startswith("data:image/svg+xml")
    link = console.input_value("#case .invite input.invite-link")
    console.screenshot(path=str(SHOTS / "console-invite-residents.png"))

    phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    phone.goto(link)
    phone.wait_for_selector("#case:not([hidden])", timeout=10000)
    assert "#t=" not in phone.url  # the secret leaves the address bar at once
    assert phone.inner_text("#kind") == "非机动车乱停放 (0506)" and "在微网格 mg-017 发现" in phone.inner_text("#when")
    phone.wait_for_function("() => document.querySelector('#before').naturalWidth > 0", timeout=10000)
    phone.click("[data-answer=satisfied]")
    phone.fill("#comment", "很快就处理了")
    phone.screenshot(path=str(SHOTS / "resident-rating.png"))
    phone.click("#send")
    phone.wait_for_selector("#status:text('感谢您的评价')", timeout=10000)
    rated = staff.get(f"/api/v1/cases/{case_id}").json()
    assert (rated["state"], rated["rating"], rated["rating_source"], rated["rating_comment"]) == (
        "rated", 5, "resident", "很快就处理了")
    again = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
    again.goto(link)  # the same link again: used up
    again.wait_for_selector("#status:text('此链接已评价过')", timeout=10000)


def test_the_leader_walks_the_loop_on_the_phone(dispatcher: DispatcherThread, mosquitto, browser,
                                                 shared: Path) -> None:
    """The same phone page, for a micro-grid leader: every case of their grids (not only their
    inbox), a consultation resumed, a handled case verified on site, residents invited, and a
    case handed to the line department; the worker sees a return button for a case not theirs."""
    staff = api_client(dispatcher)
    ids = []
    for n in (1, 2, 3):
        vid = violation_id_for("box-01", f"cam-00{n}", "z1", n, datetime(2026, 5, 1, 8, 0, tzinfo=UTC))
        publish_event(mosquitto, sample_event(violation_id=str(vid), event_id=str(event_id_for(vid, EventState.opened)),
                                              camera_id=f"cam-00{n}"))
        ids.append(wait_for(lambda v=str(vid): next((c["id"] for c in staff.get("/api/v1/cases").json()
                                                     if c["violation_id"] == v), None), 15, "the case"))
    handled, consulting, stuck = ids
    cases = dispatcher.services.cases
    for case_id in ids:
        cases.act(case_id, "accept", "w-017")
    cases.act(handled, "handle", "w-017", reason="moved to the rack")
    cases.act(consulting, "consult", "w-017", reason="the owner will not move it")

    dispatcher.services.auth.set_password("l-017", "leader-pass-1")
    phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    answers = iter(["需要城管执法"])
    phone.on("dialog", lambda dialog: dialog.accept(next(answers)))
    log_in(phone, f"{dispatcher.url}/worker/", "l-017", "leader-pass-1")
    for case_id in ids:
        phone.wait_for_selector(f".case[data-case-id='{case_id}']", timeout=15000)
    assert "微网格长" in phone.inner_text("#who")
    phone.click(f".case[data-case-id='{consulting}'] button:text('恢复处置')")
    phone.wait_for_selector(f".case[data-case-id='{consulting}'] .meta:text-matches('^已受理')", timeout=10000)
    phone.wait_for_function("() => document.querySelector('#queue').textContent === ''", timeout=10000)
    check = phone.wait_for_selector(f".case[data-case-id='{handled}'] form.verify", timeout=10000)
    check.query_selector("input[name=note]").fill("现场已清理干净")
    check.query_selector("input[type=file]").set_input_files(str(shared / "media/images/bus.jpg"))
    check.query_selector("button[type=submit]").click()
    phone.wait_for_selector(f".case[data-case-id='{handled}'] button:text('邀请居民评价')", timeout=15000)
    phone.click(f".case[data-case-id='{handled}'] button:text('邀请居民评价')")
    phone.wait_for_function("() => document.querySelector('.invite img.qr')?.naturalWidth > 100", timeout=10000)
    phone.click(f".case[data-case-id='{stuck}'] button:text('转交条线部门')")
    handed = wait_for(lambda: (c := staff.get(f"/api/v1/cases/{stuck}").json())["escalation_level"] == 2 and c,
                      15, "handed to the line department")
    assert handed["assignee_id"] == "dep-urban" and handed["timeline"][-1]["reason"] == "需要城管执法"
    phone.screenshot(path=str(SHOTS / "leader-phone.png"), full_page=True)
    assert staff.get(f"/api/v1/cases/{consulting}").json()["state"] == "accepted"
    verified = staff.get(f"/api/v1/cases/{handled}").json()
    assert (verified["state"], verified["verified_by"]) == ("verified", "l-017")
    step = next(t for t in verified["timeline"] if t["action"] == "verify")
    assert step["reason"] == "现场已清理干净" and len(step["data"]["photo_sha256"]) == 64  # the photo on site
    assert staff.get(f"/api/v1/evidence/{step['data']['photo_sha256']}.jpg").status_code == 200

    dispatcher.services.auth.set_password("w-017", "worker-pass-1")
    worker = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
    log_in(worker, f"{dispatcher.url}/worker/", "w-017", "worker-pass-1")
    worker.wait_for_selector(f".case[data-case-id='{consulting}'] button:text('退回')", timeout=15000)
    assert not worker.query_selector(f".case[data-case-id='{consulting}'] button:text('核查')")


def test_a_worker_reports_what_they_see_on_patrol(dispatcher: DispatcherThread, browser, shared: Path) -> None:
    """巡查上报 from the phone: kind, note, a photo and the phone's place; the case goes to the
    micro-grid whose area holds the place, as a camera's would."""
    dispatcher.services.auth.set_password("w-017", "worker-pass-1")
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, permissions=["geolocation"],
                                  geolocation={"longitude": 120.165, "latitude": 30.28})
    phone = context.new_page()
    log_in(phone, f"{dispatcher.url}/worker/", "w-017", "worker-pass-1")
    phone.wait_for_selector("#session:not([hidden])", timeout=10000)
    phone.click("#report-open")
    phone.select_option("#report-kind", "cross_door_trading")
    phone.fill("#report-note", "水果摊摆到了人行道上")
    phone.set_input_files("#report-photo", str(shared / "media/images/bus.jpg"))
    phone.screenshot(path=str(SHOTS / "worker-patrol-report.png"))
    phone.click("#report button[type=submit]")
    staff = api_client(dispatcher)
    patrol = wait_for(lambda: [c for c in staff.get("/api/v1/cases").json() if c["source"] == "patrol"], 15, "the case")
    case = patrol[0]
    phone.wait_for_function("() => document.querySelector('#queue').textContent === ''", timeout=10000)
    assert "未被接受" not in phone.inner_text("#status")
    assert (case["kind"], case["micro_grid"], case["assignee_id"]) == ("cross_door_trading", "mg-018", "w-018")
    assert case["report_note"] == "水果摊摆到了人行道上" and (case["lon"], case["lat"]) == (120.165, 30.28)
    assert staff.get(case["snapshot_url"]).status_code == 200
    context.close()
