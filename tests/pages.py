"""What the page tests share: Debian's Chromium driven by Playwright in Chinese and Beijing time,
watched for content-security-policy violations and uncaught script errors; logging in; an
event published as a box does (with its uploaded images); the console on a tab."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from builders import api_client, publish_event, sample_event, upload_jpeg

from contract import EventState, event_id_for, violation_id_for
from gridpatrol.data import PROJECT_ROOT
from gridpatrol.demo import DispatcherThread

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = PROJECT_ROOT / "test-artifacts" / "screenshots"
# As a root process in a container, with no network beyond loopback: no sandbox, and none of
# the background connections Chromium makes to Google's hosts.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


# The pages' users: a browser in Chinese, in Beijing time (fonts-wqy-microhei draws the glyphs)
PEOPLE_HERE = {"locale": "zh-CN", "timezone_id": "Asia/Shanghai"}


class WatchedBrowser:
    """The browser, noting every page's content-security-policy violations (the console
    messages Chromium writes when the policy blocks a script, style, image or connection) and
    every script error a page did not catch (a name a module forgot to import, say)."""

    def __init__(self, browser: object) -> None:
        self._browser = browser
        self.violations: list[str] = []
        self.errors: list[str] = []

    def _watch(self, page: object) -> None:
        page.on("console", lambda m: self.violations.append(m.text) if "Content Security Policy" in m.text else None)
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def new_page(self, **options: object) -> object:
        page = self._browser.new_page(**{**PEOPLE_HERE, **options})
        self._watch(page)
        return page

    def new_context(self, **options: object) -> object:
        context = self._browser.new_context(**{**PEOPLE_HERE, **options})
        context.on("page", self._watch)
        return context

    def __getattr__(self, name: str) -> object:
        return getattr(self._browser, name)


def publish(mosquitto, thread: DispatcherThread, state: EventState, image: bytes | None = None,
            before: bytes | None = None, crop: bytes | None = None) -> str:
    """An event of one violation on cam-001 (with an uploaded snapshot when ``image``, an
    uploaded before image when ``before``, and its object's crop when ``crop``)."""
    vid = violation_id_for("box-01", "cam-001", "z1", 3, datetime(2026, 5, 1, 8, 0, tzinfo=UTC))
    fields: dict[str, object] = {"violation_id": str(vid), "event_id": str(event_id_for(vid, state)),
                                 "state": state.value}
    edge = api_client(thread, machine="edge")
    for key, data in (("snapshot", image), ("before", before), ("crop", crop)):
        if data is None:
            continue
        digest = upload_jpeg(edge, data, status=(201,))
        fields[key] = {"url": f"{thread.url}/api/v1/evidence/{digest}.jpg", "sha256": digest,
                       "width": 1920, "height": 1080}
    if "crop" in fields:
        fields["objects"] = [{"class_name": "bicycle", "confidence": 0.8, "bbox": [10, 20, 60, 90], "track_id": 3,
                              "crop": fields.pop("crop")}]
    event = sample_event(**fields)
    publish_event(mosquitto, event)
    return str(vid)


def log_in(page, url: str, person: str, password: str) -> None:
    page.goto(url)
    page.fill("#person", person)
    page.fill("#password", password)
    page.click("button[type=submit]")

def open_console(browser, thread: DispatcherThread, tab: str | None = None, width: int = 1400, height: int = 900):
    """The dispatch console, logged in as d-01 (its password set here), the live feed open,
    on ``tab`` when given."""
    thread.services.auth.set_password("d-01", "console-pass-1")
    console = browser.new_page(viewport={"width": width, "height": height})
    log_in(console, f"{thread.url}/console/", "d-01", "console-pass-1")
    console.wait_for_selector("#link.live", timeout=15000)  # the live feed's WebSocket is open
    if tab:
        console.click(f"button.tab[data-tab={tab}]")
    return console
