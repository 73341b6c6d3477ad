"""``gridpatrol demo``: broker, dispatcher and one edge box on one machine, on a sample clip.

The edge plays the car-park clip as a camera with a no-parking zone over a row of parked
cars; each car that stands there past the dwell time becomes a case routed to the worker of
micro-grid mg-017. Cases are printed as they open, with the worker page's URL.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
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
from gridpatrol.data import PROJECT_ROOT, require

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


def run_demo(workdir: Path | None = None, speed: float = 1.0, serve_after_s: float = 0.0, port: int = 0) -> int:
    model, clip = require("models/yolov8n-coco-int8-640.onnx", "media/clips/carpark-320x240.mp4")
    tmp = None
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="gridpatrol-demo-")
        workdir = Path(tmp.name)
    port = port or free_port()
    broker = LocalBroker(persistence_dir=workdir / "broker").start()
    print(f"broker: {broker.kind} on {broker.url}")
    disp_cfg = DispatcherConfig(
        database_url=f"sqlite:///{workdir / 'dispatcher.sqlite'}",
        data_dir=workdir / "dispatcher",
        grid_file=GRID_FILE,
        mqtt={"url": broker.url},
        http=HttpConfig(host="127.0.0.1", port=port),
    )
    dispatcher = DispatcherThread(disp_cfg)
    dispatcher.start()
    base = disp_cfg.public_url()
    auth = dispatcher.services.auth
    edge_token = auth.issue_machine("demo edge box", "edge").token
    staff_token = auth.issue_session("d-01").token
    worker_url = f"{base}/worker/#token={auth.issue_session('w-017').token}"
    print(f"dispatcher: {base}  (API docs {base}/docs)")
    print(f"worker page, logged in as w-017: {worker_url}")
    print(f"dispatch console, logged in as d-01: {base}/console/#token={auth.issue_session('d-01').token}")
    edge_cfg = load_config(EdgeConfig, EDGE_CONFIG)
    edge_cfg = edge_cfg.model_copy(update={
        "model": edge_cfg.model.model_copy(update={"path": model}),
        "mqtt": edge_cfg.mqtt.model_copy(update={"url": broker.url}),
        "cameras": [edge_cfg.cameras[0].model_copy(update={"url": str(clip)})],
        "evidence": edge_cfg.evidence.model_copy(
            update={"dir": workdir / "edge-evidence", "upload_url": f"{base}/api/v1/evidence",
                    "upload_token": edge_token}),
        "outbox": edge_cfg.outbox.model_copy(update={"path": workdir / "edge-outbox.sqlite"}),
    })
    runner = EdgeRunner(edge_cfg, speed=speed)
    print(f"edge: {edge_cfg.edge_id} playing {clip.name} at {speed or 'max'}x, "
          f"zone {edge_cfg.cameras[0].zones[0].id} dwell {edge_cfg.cameras[0].zones[0].dwell_s}s")
    seen: set[int] = set()
    http = httpx.Client(base_url=base, timeout=5.0, headers={"authorization": f"Bearer {staff_token}"})

    def report() -> None:
        for case in reversed(http.get("/api/v1/cases", params={"limit": 500}).json()):
            if case["id"] in seen:
                continue
            seen.add(case["id"])
            print(f"case #{case['id']} opened: {case['kind']} at {case['camera_id']}/{case['zone_id']} "
                  f"-> worker {case['worker_id']} ({case['micro_grid']}), standing {case['dwell_s']:.0f}s, "
                  f"snapshot {case['snapshot_url']}", flush=True)

    runner.start()
    try:
        while any(w.is_alive() for w in runner.workers):
            report()
            time.sleep(0.5)
        runner.stop()
        time.sleep(1.0)
        report()
        print(f"clip done: {runner.events_decided} events decided, {len(seen)} cases opened")
        if serve_after_s > 0:
            print(f"serving for {serve_after_s:.0f}s more: {worker_url} (Ctrl-C to stop)")
            time.sleep(serve_after_s)
    except KeyboardInterrupt:
        print("stopping")
        runner.stop(flush_timeout_s=2.0)
    finally:
        http.close()
        dispatcher.stop()
        broker.stop()
        if tmp is not None:
            tmp.cleanup()
    return 0 if seen else 1
