"""``gridpatrol demo``: broker, dispatcher and one edge box on one machine, on a sample clip.

The edge plays the demo bundle's shop-front clip (gridpatrol/bundle.py: from the data folder,
else downloaded once into the user cache) as a camera watching the strip before a shop's
door; goods that stand there past the dwell time become cross-door trading cases routed to
the worker of micro-grid mg-017. Cases are printed as they open, with the worker page's URL.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import uvicorn

from contract.configfile import load_config
from dispatcher.app import create_app, uvicorn_config
from dispatcher.config import DispatcherConfig, HttpConfig
from dispatcher.services import Services
from edge.config import EdgeConfig
from edge.runner import EdgeRunner
from gridpatrol.broker import LocalBroker, free_port
from gridpatrol.bundle import BundleError, fetch
from gridpatrol.data import PROJECT_ROOT
from i18n import DEFAULT_LOCALE, Locale, translator
from i18n.terms import term
from i18n.timefmt import short_time

log = logging.getLogger("gridpatrol.demo")

EDGE_CONFIG = PROJECT_ROOT / "configs" / "demo-edge.yaml"
GRID_FILE = PROJECT_ROOT / "configs" / "grid.yaml"


class DispatcherThread:
    """Uvicorn in a background thread, stoppable."""

    def __init__(self, config: DispatcherConfig) -> None:
        self.config = config
        self.app = create_app(config)
        self.server = uvicorn.Server(uvicorn_config(config, self.app, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, name="dispatcher", daemon=True)

    def start(self, timeout_s: float = 20.0) -> None:
        self.thread.start()
        end = time.monotonic() + timeout_s
        while not self.server.started:
            if time.monotonic() > end or not self.thread.is_alive():
                raise RuntimeError("the dispatcher did not start")
            time.sleep(0.05)

    @property
    def services(self) -> Services:
        return self.app.state.services

    @property
    def url(self) -> str:
        return self.config.public_url()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def run_demo(workdir: Path | None = None, speed: float = 1.0, serve_after_s: float = 0.0, port: int = 0,
             locale: Locale = DEFAULT_LOCALE) -> int:
    """The demo; what it prints is in ``locale``, as are the pages' default and the captions."""
    tr = translator(locale)
    edge_cfg = load_config(EdgeConfig, EDGE_CONFIG)
    try:
        model, clip = fetch([str(edge_cfg.model.path), edge_cfg.cameras[0].url],
                            say=lambda message: print(tr.msg(message), flush=True))
    except BundleError as exc:
        print(tr.msg(exc.message), file=sys.stderr)
        return 1
    tmp = None
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="gridpatrol-demo-")
        workdir = Path(tmp.name)
    port = port or free_port()
    broker = LocalBroker(persistence_dir=workdir / "broker").start()
    print(tr._("broker: {kind} on {url}", kind=broker.kind, url=broker.url))
    disp_cfg = DispatcherConfig(
        database_url=f"sqlite:///{workdir / 'dispatcher.sqlite'}",
        data_dir=workdir / "dispatcher",
        grid_file=GRID_FILE,
        mqtt={"url": broker.url},
        http=HttpConfig(host="127.0.0.1", port=port),
        locale=locale,
    )
    dispatcher = DispatcherThread(disp_cfg)
    dispatcher.start()
    base = disp_cfg.public_url()
    auth = dispatcher.services.auth
    edge_token = auth.issue_machine("demo edge box", "edge").token
    staff_token = auth.issue_session("d-01").token
    worker_url = f"{base}/worker/#token={auth.issue_session('w-017').token}"
    print(tr._("dispatcher: {url}  (API docs {url}/docs)", url=base))
    print(tr._("worker page, logged in as w-017: {url}", url=worker_url))
    print(tr._("dispatch console, logged in as d-01: {url}",
               url=f"{base}/console/#token={auth.issue_session('d-01').token}"))
    edge_cfg = edge_cfg.model_copy(update={
        "locale": locale,
        "model": edge_cfg.model.model_copy(update={"path": model}),
        "mqtt": edge_cfg.mqtt.model_copy(update={"url": broker.url}),
        "cameras": [edge_cfg.cameras[0].model_copy(update={"url": str(clip)})],
        "evidence": edge_cfg.evidence.model_copy(
            update={"dir": workdir / "edge-evidence", "upload_url": f"{base}/api/v1/evidence",
                    "upload_token": edge_token}),
        "outbox": edge_cfg.outbox.model_copy(update={"path": workdir / "edge-outbox.sqlite"}),
    })
    runner = EdgeRunner(edge_cfg, speed=speed)
    zone = edge_cfg.cameras[0].zones[0]
    pace = (tr._("at {speed}x speed", speed=f"{speed:g}") if speed else tr._("as fast as it decodes"))
    print(tr._("edge box {edge}: playing {clip} {pace}, zone {zone} (dwell {dwell} s)", edge=edge_cfg.edge_id,
               clip=clip.name, pace=pace, zone=zone.id, dwell=f"{zone.dwell_s:g}"))
    seen: set[int] = set()
    http = httpx.Client(base_url=base, timeout=5.0, headers={"authorization": f"Bearer {staff_token}"})

    def report() -> None:
        for case in reversed(http.get("/api/v1/cases", params={"limit": 500}).json()):
            if case["id"] in seen:
                continue
            seen.add(case["id"])
            opened = datetime.fromisoformat(case["opened_at"]) if case.get("opened_at") else datetime.now(UTC)
            print(tr._("case #{id} opened {time}: {kind} at {camera}/{zone} -> worker {worker} ({grid}), "
                       "standing {seconds} s", id=case["id"], time=short_time(opened, disp_cfg.timezone, tr.locale),
                       kind=term(tr, "kind", case["kind"]), camera=case["camera_id"], zone=case["zone_id"],
                       worker=case["worker_id"], grid=case["micro_grid"], seconds=round(case["dwell_s"])),
                  flush=True)

    runner.start()
    try:
        while any(w.is_alive() for w in runner.workers):
            report()
            time.sleep(0.5)
        runner.stop()
        time.sleep(1.0)
        report()
        print(tr._("clip done: {events} events decided, {cases} cases opened", events=runner.events_decided,
                   cases=len(seen)))
        if serve_after_s > 0:
            print(tr._("serving for {seconds} s more: {url} (Ctrl-C to stop)", seconds=round(serve_after_s),
                       url=worker_url))
            time.sleep(serve_after_s)
    except KeyboardInterrupt:
        print(tr._("stopping"))
        runner.stop(flush_timeout_s=2.0)
    finally:
        http.close()
        dispatcher.stop()
        broker.stop()
        if tmp is not None:
            tmp.cleanup()
    return 0 if seen else 1
