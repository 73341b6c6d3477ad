"""The dispatch console in a real browser: Debian's headless Chromium driven by Playwright
against a dispatcher the test starts, fed by a real Mosquitto (with the phone pages where a
case goes to them). The run leaves screenshots in test-artifacts/screenshots/."""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.publish as mqtt_publish
from builders import api_client, dispatcher_config, sample_event, wait_for
from pages import SHOTS, log_in, open_console, publish

from contract import EventState, event_id_for, violation_id_for
from dispatcher.config import HttpConfig
from gridpatrol.broker import free_port
from gridpatrol.demo import DispatcherThread


def test_an_event_goes_from_the_console_feed_to_the_worker_and_back_to_closed(
        dispatcher: DispatcherThread, mosquitto, browser, shared: Path) -> None:
    dispatcher.services.auth.set_password("w-017", "worker-pass-1")
    SHOTS.mkdir(parents=True, exist_ok=True)

    console = open_console(browser, dispatcher)

    # a violation arrives over MQTT and shows in the feed, with its snapshot (and its before image)
    publish(mosquitto, dispatcher, EventState.opened, (shared / "media/images/carpark-1920x1080.jpg").read_bytes(),
            before=(shared / "media/images/zidane.jpg").read_bytes(),
            crop=(shared / "media/images/road-motorbikes-1280x574.jpg").read_bytes())
    row = console.wait_for_selector("#feed tbody tr", timeout=15000)
    assert "非机动车乱停放 (0506)" in row.inner_text() and "mg-017" in row.inner_text()  # the town's words
    state = row.query_selector(".state")
    assert (state.get_attribute("data-state"), state.inner_text()) == ("dispatched", "已派遣")
    assert re.search(r"\d+秒钟?前", row.query_selector("td.age").inner_text()), row.inner_text()  # local, Chinese
    console.wait_for_function("() => document.querySelector('#feed tbody img')?.naturalWidth > 0", timeout=10000)
    case_id = int(row.get_attribute("data-case-id"))
    console.screenshot(path=str(SHOTS / "console-feed.png"))

    # the worker, on a phone-sized screen, accepts, photographs the spot and reports it handled
    phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    log_in(phone, f"{dispatcher.url}/worker/", "w-017", "worker-pass-1")
    phone.wait_for_selector(f".case[data-case-id='{case_id}']", timeout=15000)
    phone.wait_for_function("() => document.querySelector('.case img')?.naturalWidth > 0", timeout=10000)
    phone.screenshot(path=str(SHOTS / "worker-case.png"))
    phone.click(f".case[data-case-id='{case_id}'] button:text('受理')")  # found again if the list re-renders
    form = phone.wait_for_selector(f".case[data-case-id='{case_id}'] form.handle", timeout=10000)
    form.query_selector("input[name=note]").fill("bikes moved to the rack")
    form.query_selector("input[type=file]").set_input_files(str(shared / "media/images/road-motorbikes-1280x574.jpg"))
    form.query_selector("button[type=submit]").click()
    phone.wait_for_function(
        f"() => document.querySelector(\".case[data-case-id='{case_id}'] .meta\")?.textContent.startsWith('已处置')"
        " && document.querySelector('#queue').textContent === ''", timeout=15000)
    phone.screenshot(path=str(SHOTS / "worker-handled.png"))
    staff = api_client(dispatcher)
    handled = staff.get(f"/api/v1/cases/{case_id}").json()
    assert handled["state"] == "handled" and handled["handling_note"] == "bikes moved to the rack"
    assert handled["after_photo_sha256"] and staff.get(handled["after_photo_url"]).status_code == 200

    # the camera sees the spot free: the case is verified; the console shows it live
    publish(mosquitto, dispatcher, EventState.cleared, (shared / "media/images/bus.jpg").read_bytes())
    console.wait_for_selector(f"#feed tr[data-case-id='{case_id}'] .state.verified", timeout=15000)
    console.click(f"#feed tr[data-case-id='{case_id}']")
    for n in (1, 2, 3, 4, 5):  # before (camera), now (camera), after (worker), spot free (camera), the bicycle
        figure = f"#case .images figure:nth-child({n}) img"
        console.wait_for_function(f"() => document.querySelector('{figure}')?.naturalWidth > 0", timeout=10000)
    assert "bicycle（摄像头）" in console.inner_text("#case .images")  # the object's crop, signed like the rest
    console.click("#case button:text('结案')")
    console.wait_for_selector(f"#feed tr[data-case-id='{case_id}'] .state.closed", timeout=15000)
    console.wait_for_selector("#case .state.closed", timeout=10000)
    timeline = console.inner_text("#case ol.timeline")
    for step in ("派遣", "受理", "处置", "核查", "结案"):
        assert f"· {step}:" in timeline
    local_step = r"\d{4}年\d{1,2}月\d{1,2}日 \d\d:\d\d:\d\d · 派遣: 已上报 → 已派遣 · system \(系统\)"
    assert re.search(local_step, timeline), timeline  # local time, the town's words
    console.screenshot(path=str(SHOTS / "console-case-closed.png"))
    # the worker's page shows the case closed, with the after photo, at its next refresh
    phone.wait_for_function(
        f"() => document.querySelector(\".case[data-case-id='{case_id}'] .meta\")?.textContent.startsWith('已结案')",
        timeout=20000)
    phone.wait_for_function("() => document.querySelector('.case img.after')?.naturalWidth > 0", timeout=10000)
    phone.screenshot(path=str(SHOTS / "worker-closed.png"))

    # the month's assessment: the worker closed one case of one, on time
    console.click("button.tab[data-tab=stats]")
    stats_row = console.wait_for_selector("#s-table tbody tr:has-text('w-017')", timeout=10000)
    cells = [td.inner_text() for td in stats_row.query_selector_all("td")]
    headers = [th.get_attribute("data-key") for th in console.query_selector_all("#s-table thead th")]
    shown = dict(zip(headers, cells, strict=True))
    assert (shown["cases"], shown["closing_rate"], shown["accepted_on_time_rate"]) == ("1", "100 %", "100 %")
    assert console.inner_text("#s-table thead th[data-key=closing_rate]") == "结案率"
    assert console.query_selector_all("#s-chart rect.bar")
    console.screenshot(path=str(SHOTS / "console-stats.png"))
    assert wait_for(lambda: staff.get(f"/api/v1/cases/{case_id}").json()["state"] == "closed", 5, "closed")


def test_the_camera_board_shows_each_camera_and_box_as_the_edge_reports_them(
        dispatcher: DispatcherThread, mosquitto, browser) -> None:
    dispatcher.services.auth.set_password("d-01", "console-pass-1")
    host, port = mosquitto.url.removeprefix("mqtt://").split(":")

    def retained(topic: str, body: dict) -> None:
        mqtt_publish.single(topic, json.dumps(body), qos=1, retain=True, hostname=host, port=int(port))

    since = datetime.now(UTC).isoformat()
    retained("gridpatrol/v1/box-01/status", {"state": "online"})
    for camera, state, reason in (("cam-001", "online", ""), ("cam-002", "suspended", "view moved (shift 9 %)")):
        retained(f"gridpatrol/v1/box-01/{camera}/status", {"schema_version": 1, "edge_id": "box-01",
                 "camera_id": camera, "state": state, "reason": reason, "since": since, "last_frame_at": since})
    retained("gridpatrol/v1/box-02/cam-101/status", {"schema_version": 1, "edge_id": "box-02",
             "camera_id": "cam-101", "state": "stalled", "reason": "no frame for 30 s", "since": since})
    retained("gridpatrol/v1/box-02/cam-102/status", {"state": "melted"})  # not a status: ignored, counted

    console = browser.new_page(viewport={"width": 1400, "height": 700})
    console.goto(f"{dispatcher.url}/console/")
    console.select_option("#language", "en")  # a person may switch the page to English: kept on this device
    console.wait_for_selector("html[lang=en]", timeout=10000)
    assert console.inner_text("#login h2") == "Log in"
    log_in(console, f"{dispatcher.url}/console/", "d-01", "console-pass-1")
    console.wait_for_selector("#link.live", timeout=15000)
    console.click("button.tab[data-tab=cameras]")
    console.wait_for_selector("#c-table tr[data-camera='box-02/cam-101']", timeout=10000)
    suspended = console.inner_text("#c-table tr[data-camera='box-01/cam-002']").lower()
    assert "view changed" in suspended and "view moved (shift 9 %)" in suspended
    assert console.inner_text("#c-table tr[data-camera='box-01/cam-001'] td.last-frame").endswith("ago")
    assert console.inner_text("#c-table tr[data-camera='box-02/cam-101'] td.last-frame") == "—"

    # the box dies: its last will says offline, and the board shows it live
    retained("gridpatrol/v1/box-02/status", {"state": "offline", "reason": "lost"})
    console.wait_for_selector("#c-table tr[data-camera='box-02/cam-101'] .state.offline", timeout=10000)
    assert console.inner_text("#c-summary").split() == ["3", "cameras", "1", "Online", "1", "View", "changed", "1",
                                                        "Stalled", "1", "boxes", "offline"]
    console.screenshot(path=str(SHOTS / "console-cameras-en.png"))
    console.select_option("#language", "zh-CN")  # and back: the same board in Chinese
    console.wait_for_selector("html[lang=zh-CN] #link.live", timeout=15000)
    console.click("button.tab[data-tab=cameras]")
    stalled = console.wait_for_selector("#c-table tr[data-camera='box-02/cam-101']", timeout=10000)
    assert "画面卡顿" in stalled.inner_text() and "离线" in stalled.inner_text()
    console.screenshot(path=str(SHOTS / "console-cameras.png"))
    board = api_client(dispatcher).get("/api/v1/cameras").json()
    assert [(c["camera_id"], c["state"]) for c in board["cameras"]] == [
        ("cam-001", "online"), ("cam-002", "suspended"), ("cam-101", "stalled")]
    assert dispatcher.services.cameras.rejected == 1


def test_the_map_colours_micro_grids_by_open_cases_and_opens_their_cases(
        dispatcher: DispatcherThread, mosquitto, browser) -> None:
    host, port = mosquitto.url.removeprefix("mqtt://").split(":")
    for n in (1, 2):  # two violations that only say where they are: inside mg-018's area
        vid = violation_id_for("box-01", f"cam-00{n}", "z1", n, datetime(2026, 5, 1, 8, 0, tzinfo=UTC))
        event = sample_event(violation_id=str(vid), event_id=str(event_id_for(vid, EventState.opened)),
                             camera_id=f"cam-00{n}", micro_grid=None, location={"lon": 120.165, "lat": 30.28})
        event.pop("micro_grid")
        mqtt_publish.single(f"gridpatrol/v1/box-01/cam-00{n}/events", json.dumps(event), qos=1, hostname=host,
                            port=int(port))
    staff = api_client(dispatcher)
    wait_for(lambda: len(staff.get("/api/v1/cases?micro_grid=mg-018").json()) == 2, 15, "two cases in mg-018")

    console = open_console(browser, dispatcher, "map", 1200, 800)
    console.wait_for_selector(".leaflet-container.plain", timeout=10000)  # no tile server: plain background
    mg018 = console.wait_for_selector("path[data-grid='mg-018']", timeout=10000)
    assert mg018.get_attribute("fill") == "#e8a33d"  # 1-2 open cases
    assert console.query_selector("path[data-grid='mg-017']").get_attribute("fill") == "#5aa469"  # none
    assert "mg-018 东街4号网格：2 件未结" in console.inner_text(".leaflet-tooltip-pane")
    assert len(console.query_selector_all("path.leaflet-interactive[stroke='#1d2330'][fill='#fff']")) == 2
    console.screenshot(path=str(SHOTS / "console-map.png"))
    mg018.click(position={"x": 12, "y": 12})  # a corner: the camera dot sits in the middle
    console.wait_for_selector("#desk:not([hidden])", timeout=5000)
    assert console.eval_on_selector("#f-grid", "s => s.value") == "mg-018"
    assert len(console.query_selector_all("#feed tbody tr")) == 2


@contextmanager
def zone_editor(tmp_path: Path, mosquitto, browser, shared: Path, project_root: Path) -> Iterator[tuple]:
    """The console's zone editor on cam-001 of a town config copied from the example, over the
    camera's latest snapshot: yields the page, the config file, a click at (x, y) in 0..1 of
    the picture and the page position of such a point."""
    from builders import dispatcher_config

    town = tmp_path / "town.yaml"
    town.write_text((project_root / "configs/edge.example.yaml").read_text())
    thread = DispatcherThread(dispatcher_config(tmp_path, mosquitto.url, edge_config=town))
    thread.start()
    try:
        publish(mosquitto, thread, EventState.opened, (shared / "media/images/carpark-1920x1080.jpg").read_bytes())
        staff = api_client(thread)
        wait_for(lambda: staff.get("/api/v1/cases").json(), 15, "the case with its snapshot")

        console = open_console(browser, thread, "zones")
        console.wait_for_selector("#z-svg polygon[data-zone='z1']", timeout=10000)
        console.wait_for_function("() => document.querySelector('#z-image').naturalWidth > 0", timeout=10000)

        def at(x: float, y: float) -> tuple[float, float]:  # measured anew: a long status line moves the picture
            box = console.query_selector("#z-svg").bounding_box()
            return box["x"] + x * box["width"], box["y"] + y * box["height"]

        yield console, town, lambda x, y: console.mouse.click(*at(x, y)), at
    finally:
        thread.stop()


def test_the_zone_editor_draws_over_the_snapshot_and_saves_only_valid_zones(
        tmp_path: Path, mosquitto, browser, shared: Path, project_root: Path) -> None:
    from edge.config import load_edge_config

    with zone_editor(tmp_path, mosquitto, browser, shared, project_root) as (console, town, click, at):
        console.click("#z-new")
        card = console.query_selector("[data-zone-index='1']")
        card.query_selector("input[data-key=micro_grid]").fill("mg-018")
        card.query_selector("input[data-key=micro_grid]").press("Tab")
        click(0.6, 0.2)
        click(0.9, 0.2)
        before = town.read_bytes()
        console.click("#z-save")
        console.wait_for_selector("#z-status:text('未保存')", timeout=10000)
        assert "422: zones[1].polygon: List should have at least 3 items" in console.inner_text("#z-status")
        assert town.read_bytes() == before  # nothing written

        click(0.9, 0.45)
        click(0.6, 0.45)
        # drag the first point a little to the left
        console.mouse.move(*at(0.6, 0.2))
        console.mouse.down()
        console.mouse.move(*at(0.55, 0.2), steps=5)
        console.mouse.up()
        console.click("#z-save")
        console.wait_for_selector("#z-status:text('已保存 cam-001 的 2 个区域')", timeout=10000)
        console.screenshot(path=str(SHOTS / "console-zones.png"))

        camera = load_edge_config(town).camera("cam-001")  # the edge's own loader accepts the file
        assert [z.id for z in camera.zones] == ["z1", "z2"]
        drawn = camera.zones[1]
        assert (drawn.kind.value, drawn.micro_grid) == ("parked_bike", "mg-018")
        assert drawn.classes == ["bicycle", "motorcycle"]
        expected = [(0.55, 0.2), (0.9, 0.2), (0.9, 0.45), (0.6, 0.45)]
        assert all(abs(x - ex) < 0.01 and abs(y - ey) < 0.01
                   for (x, y), (ex, ey) in zip(drawn.polygon, expected, strict=True))
        assert camera.zones[0].polygon == [(0.1, 0.5), (0.9, 0.5), (0.9, 1.0), (0.1, 1.0)]  # untouched
        assert (tmp_path / "town.yaml.bak").read_bytes() == before


def test_a_shop_fronts_door_line_is_drawn_dragged_and_saved_with_its_strip(
        tmp_path: Path, mosquitto, browser, shared: Path, project_root: Path) -> None:
    from edge.config import load_edge_config

    with zone_editor(tmp_path, mosquitto, browser, shared, project_root) as (console, town, click, at):
        assert console.is_disabled("#z-door")  # z1 is a parked-bike zone: no door line
        console.click("#z-new")
        card = console.query_selector("[data-zone-index='1']")
        card.query_selector("select[data-key=kind]").select_option("cross_door_trading")
        card = console.query_selector("[data-zone-index='1']")
        for key, value in (("id", "shop-0012-front"), ("classes", "chair, dining table"), ("shop_id", "shop-0012")):
            card.query_selector(f"input[data-key={key}]").fill(value)
            card.query_selector(f"input[data-key={key}]").press("Tab")
        for x, y in ((0.3, 0.1), (0.7, 0.1), (0.75, 0.4), (0.25, 0.4)):  # the strip before the shop
            click(x, y)
        assert not console.is_disabled("#z-door")
        console.click("#z-door")
        click(0.45, 0.25)
        click(0.55, 0.25)  # across the middle of the strip, not along its shop side
        console.wait_for_selector("#z-svg line.door[data-door='shop-0012-front']", state="attached", timeout=5000)
        before = town.read_bytes()
        console.click("#z-save")
        console.wait_for_selector("#z-status:text('未保存')", timeout=10000)
        assert "door_line: point 0 is not on the strip's border" in console.inner_text("#z-status")
        assert town.read_bytes() == before

        for (x, y), (to_x, to_y) in (((0.45, 0.25), (0.35, 0.1)), ((0.55, 0.25), (0.65, 0.1))):
            console.mouse.move(*at(x, y))
            console.mouse.down()
            console.mouse.move(*at(to_x, to_y), steps=5)
            console.mouse.up()
        console.click("#z-save")
        console.wait_for_selector("#z-status:text('已保存 cam-001 的 2 个区域')", timeout=10000)
        console.screenshot(path=str(SHOTS / "console-zones-door-line.png"))

        front = load_edge_config(town).camera("cam-001").zones[1]
        assert (front.id, front.kind.value, front.shop_id) == ("shop-0012-front", "cross_door_trading", "shop-0012")
        assert front.classes == ["chair", "dining table"]
        assert all(abs(x - ex) < 0.01 and abs(y - ey) < 0.01
                   for (x, y), (ex, ey) in zip(front.door_line, [(0.35, 0.1), (0.65, 0.1)], strict=True))

        # a shop front turned into a parked-bike zone loses its door line (only shop fronts have one)
        console.query_selector("[data-zone-index='1'] select[data-key=kind]").select_option("parked_bike")
        console.wait_for_selector("#z-svg line.door", state="detached", timeout=5000)
        assert console.is_disabled("#z-door")


def test_pages_and_images_carry_the_security_headers(dispatcher: DispatcherThread, mosquitto) -> None:
    from builders import jpeg_bytes

    staff = api_client(dispatcher)
    for page in ("/worker/", "/console/"):
        headers = staff.get(page).headers
        policy = headers["content-security-policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
        assert headers["x-content-type-options"] == "nosniff" and headers["referrer-policy"] == "no-referrer"
    image = jpeg_bytes()
    digest = hashlib.sha256(image).hexdigest()
    edge = api_client(dispatcher, machine="edge")
    edge.put(f"/api/v1/evidence/{digest}.jpg", content=image, headers={"content-type": "image/jpeg"})
    served = edge.get(f"/api/v1/evidence/{digest}.jpg")
    assert served.headers["content-type"] == "image/jpeg" and served.headers["x-content-type-options"] == "nosniff"


def gcj02(lon: float, lat: float) -> tuple[float, float]:
    """WGS-84 → GCJ-02 by the published formula (Krasovsky 1940 ellipsoid), written out here as
    the reference the vendored gcoord is checked against."""
    a, ee = 6378245.0, 0.00669342162296594323
    x, y = lon - 105.0, lat - 35.0
    d_lat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
             + (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
             + (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
             + (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0)
    d_lon = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
             + (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
             + (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
             + (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0)
    rad = lat / 180.0 * math.pi
    magic = 1 - ee * math.sin(rad) ** 2
    d_lat = (d_lat * 180.0) / ((a * (1 - ee)) / (magic * math.sqrt(magic)) * math.pi)
    d_lon = (d_lon * 180.0) / (a / math.sqrt(magic) * math.cos(rad) * math.pi)
    return lon + d_lon, lat + d_lat


def test_on_gcj02_tiles_the_grids_are_shifted_onto_their_streets(tmp_path: Path, mosquitto, browser) -> None:
    """A town on AMap-style (GCJ-02) tiles: the map asks its tile server (a real one on
    loopback) for tiles and labels, and draws the grid file's WGS-84 boundaries converted, by
    the vendored gcoord, as the reference formula converts them (some 500 m in Hangzhou)."""
    import io

    from http_receiver import Receiver
    from PIL import Image

    tile = io.BytesIO()
    Image.new("RGB", (256, 256), (230, 235, 240)).save(tile, "PNG")
    tiles = Receiver(respond=lambda request: (200, tile.getvalue(), {"content-type": "image/png"}))
    host = tiles.url.removeprefix("http://")
    config = dispatcher_config(tmp_path, mosquitto.url, http=HttpConfig(
        host="127.0.0.1", port=free_port(), map_tiles=f"http://{host}/{{s}}/{{z}}/{{x}}/{{y}}.png",
        map_labels=f"http://{host}/labels/{{z}}/{{y}}/{{x}}.png", map_subdomains="1234", map_crs="gcj02",
        map_attribution="高德地图"))
    thread = DispatcherThread(config)
    thread.start()
    try:
        console = open_console(browser, thread, "map", 1200, 800)
        console.wait_for_selector(".leaflet-container[data-crs=gcj02]", timeout=10000)
        console.wait_for_selector("path[data-grid='mg-018']", timeout=10000)
        console.wait_for_function("() => document.querySelectorAll('.leaflet-tile-loaded').length > 4",
                                  timeout=10000)
        paths = [r.path for r in tiles.received]
        assert any(re.fullmatch(r"/[1234]/\d+/\d+/\d+\.png", p) for p in paths), paths[:5]  # {s} from subdomains
        assert any(p.startswith("/labels/") for p in paths)
        assert "高德地图" in console.inner_text(".leaflet-control-attribution")
        points = [(120.165, 30.28), (116.391, 39.907), (121.4737, 31.2304), (113.2644, 23.1291), (104.066, 30.572)]
        shifted = console.evaluate("(points) => points.map((p) => gcoord.transform(p, gcoord.WGS84, gcoord.GCJ02))",
                                   points)
        for (lon, lat), (got_lon, got_lat) in zip(points, shifted, strict=True):
            want_lon, want_lat = gcj02(lon, lat)
            assert abs(got_lon - want_lon) < 1e-6 and abs(got_lat - want_lat) < 1e-6, (lon, lat, got_lon, got_lat)
            assert 0.001 < abs(want_lon - lon) + abs(want_lat - lat) < 0.02  # a real shift: hundreds of metres
        console.screenshot(path=str(SHOTS / "console-map-gcj02.png"))
    finally:
        thread.stop()
        tiles.close()


def test_a_consultation_on_the_phones_of_its_participants(dispatcher: DispatcherThread, mosquitto, browser,
                                                          shared: Path) -> None:
    """The worker asks the leader; the leader's phone shows the thread and adds to it; the
    line department's phone sees the case it was called to and answers."""
    publish(mosquitto, dispatcher, EventState.opened)
    staff = api_client(dispatcher)
    case_id = wait_for(lambda: staff.get("/api/v1/cases").json(), 15, "the case")[0]["id"]
    cases = dispatcher.services.cases
    cases.act(case_id, "accept", "w-017")
    cases.act(case_id, "consult", "w-017", reason="车主联系不上，车锁着")
    participants = (("l-017", "leader-pass-1", "请城管中队协助开锁"), ("dep-urban", "dept-pass-1", "明早九点到场"))
    for person, password, note in participants:
        dispatcher.services.auth.set_password(person, password)
        phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
        log_in(phone, f"{dispatcher.url}/worker/", person, password)
        card = phone.wait_for_selector(f".case[data-case-id='{case_id}'] .consultation", timeout=15000)
        phone.wait_for_selector(f".case[data-case-id='{case_id}'] .consultation li", timeout=10000)
        card.query_selector("input[name=note]").fill(note)
        if person == "dep-urban":  # a photo with the note
            card.query_selector("input[name=photo]").set_input_files(str(shared / "media/images/bus.jpg"))
        card.query_selector("button[type=submit]").click()
        phone.wait_for_selector(f".consultation li:has-text('{note}')", timeout=10000)
    assert "dep-urban (条线部门): 明早九点到场" in phone.inner_text(".consultation")
    assert not phone.query_selector(f".case[data-case-id='{case_id}'] button:text('恢复处置')")  # the leader decides
    thread = staff.get(f"/api/v1/cases/{case_id}/consultation").json()["notes"]
    assert [n["text"] for n in thread] == ["车主联系不上，车锁着", "请城管中队协助开锁", "明早九点到场"]
    assert thread[2]["photo_url"] and staff.get(thread[2]["photo_url"]).status_code == 200
    phone.wait_for_function("() => document.querySelector('.consultation li img')?.naturalWidth > 0", timeout=10000)
    phone.screenshot(path=str(SHOTS / "consultation-phone.png"), full_page=True)
    console = open_console(browser, dispatcher)
    console.click(f"#feed tr[data-case-id='{case_id}']")
    console.wait_for_selector("#case ol.consultation li:has-text('明早九点到场')", timeout=10000)
    console.screenshot(path=str(SHOTS / "console-consultation.png"))
