"""``gridpatrol edge run``: every configured camera through the pipeline, events to MQTT.

source → sampler → detector → tracker → rules → evidence → outbox → MQTT. One thread per
camera (and one for its main stream where it detects on its substream); their frames meet in
the box's inference threads, which batch them (edge/batching.py). A file source plays at its
own frame rate (times ``speed``) so it behaves like a camera, a live source as fast as it
arrives.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from contract import CameraState, CameraStatus, ViolationEvent
from contract.configfile import first_error
from contract.configpush import PushedZones
from edge.analyzer import media_clock
from edge.batching import BatchScheduler, SchedulerStopped
from edge.caption import Captioner
from edge.config import CameraConfig, EdgeConfig, ZoneConfig
from edge.configwatch import ConfigWatcher
from edge.detector import Detector, YoloDetector, cpu_notice
from edge.evidence import EvidenceError, EvidenceStore
from edge.foreground import FOREGROUND_CLASS
from edge.mainstream import MainStream
from edge.metrics import EdgeMetrics
from edge.outbox import Outbox
from edge.pipeline import CameraPipeline
from edge.publisher import Publisher
from edge.recent import RecentSamples
from edge.scene import SceneGuard
from edge.source import CameraSource, KeyframeGate, SourceError, decode_threads
from edge.unchanged import UnchangedGate
from edge.zonetest import ZoneTests
from i18n import Msg, translator

log = logging.getLogger(__name__)


class CameraWorker(threading.Thread):
    def __init__(
        self,
        config: EdgeConfig,
        camera: CameraConfig,
        detector: Detector,
        evidence: EvidenceStore,
        emit: Callable[[ViolationEvent, list[str]], None],
        stop: threading.Event,
        speed: float = 1.0,
        on_status: Callable[[CameraStatus], None] | None = None,
        metrics: EdgeMetrics | None = None,
        decode_threads: int = 0,
    ) -> None:
        super().__init__(name=f"camera-{camera.id}", daemon=True)
        self.decode_threads = decode_threads  # of the decoder of the stream detected on (edge.source.decode_threads)
        self.camera = camera
        self.detector = detector
        self.evidence = evidence
        self.emit = emit
        self.stop_event = stop
        self.speed = speed
        self.pipeline = CameraPipeline.from_config(config, camera, detector.class_names,
                                                   media_clock(datetime.now(UTC)), evidence)
        self.analyzer = self.pipeline.analyzer
        self.frames_analysed = 0
        self.error: str | None = None
        self.edge_id = config.edge_id
        self.on_status = on_status or (lambda status: None)
        self.metrics = metrics or EdgeMetrics()
        self.started = time.monotonic()
        self.scene = SceneGuard(camera.scene)
        self.words = translator(config.locale)
        self.frames_suspended = 0
        self._pending_zones: list[ZoneConfig] | None = None
        self.current: CameraStatus | None = None
        self.last_frame_at: datetime | None = None
        self._heartbeat_due = 0.0
        # detecting on the substream: the main stream's keyframes are the evidence (edge/mainstream.py)
        self.main = (MainStream(camera.url, stop=stop.is_set, loop=camera.loop) if camera.detect_url else None)
        self.unchanged = UnchangedGate(camera.unchanged, camera.zones)  # no inference where nothing changed
        keep = config.zone_test
        recorder = self.pipeline.recorder
        self.recent = (RecentSamples(keep.keep_min * 60, keep.thumbnail_every_s,
                                     protect=recorder.protect if recorder is not None else None)
                       if keep.keep_min > 0 else None)  # for trying zones from the console (edge/zonetest.py)
        self.analyzer.recent = self.recent

    def _status(self, state: str, reason: str) -> None:
        log.info("camera %s %s: %s", self.camera.id, state, reason)
        self.metrics.camera_online.labels(self.camera.id).set(1 if state == "online" else 0)
        if state == "offline":
            self.metrics.decode_errors.labels(self.camera.id).inc()
        said = self.words.msg(reason)  # in the town's language: the console shows it as it is
        self.current = CameraStatus(edge_id=self.edge_id, camera_id=self.camera.id, state=CameraState(state),
                                    reason=said[:500], since=datetime.now(UTC), last_frame_at=self.last_frame_at)
        self._heartbeat_due = time.monotonic() + self.camera.status_heartbeat_s
        self.on_status(self.current)

    def _frame_seen(self) -> None:
        """A frame was decoded: note when, and repeat the status with it every heartbeat_s."""
        self.last_frame_at = datetime.now(UTC)
        if self.current is not None and time.monotonic() >= self._heartbeat_due:
            self._heartbeat_due = time.monotonic() + self.camera.status_heartbeat_s
            self.current = self.current.model_copy(update={"last_frame_at": self.last_frame_at})
            self.on_status(self.current)

    def run(self) -> None:
        if self.main is not None:
            self.main.start()
        source = CameraSource(self.camera.detect_url or self.camera.url, on_status=self._status,
                              stop=self.stop_event.is_set,
                              on_reconnect=self.metrics.reconnects.labels(self.camera.id).inc, loop=self.camera.loop,
                              gate=lambda: KeyframeGate(self.camera.decode, 1.0 / self.camera.sample_fps),
                              threads=self.decode_threads)
        if not source.live:
            self._status("online", Msg("playing a file"))
        sampler = self.camera.sampler()
        self.started = started = time.monotonic()
        try:
            decoded = self.metrics.frames_decoded.labels(self.camera.id)
            for raw in source.frames():
                if self.stop_event.is_set():
                    return
                decoded.inc()
                self._frame_seen()
                if not sampler.due(raw.time_s, raw.key):
                    continue
                if not source.live and self.speed > 0:
                    lag = raw.time_s / self.speed - (time.monotonic() - started)
                    if lag > 0 and self.stop_event.wait(lag):
                        return
                arrived = time.monotonic()
                self.process(raw.time_s, raw.to_bgr())
                sampler.follow(self.analyzer.busy or self.scene.paused)
                source.sampled(sampler.wait_s(raw.time_s))
                self.metrics.lag.labels(self.camera.id).set(time.monotonic() - arrived)
        except SchedulerStopped:
            return  # the box is shutting down
        except SourceError as exc:
            self.error = str(exc)
            log.error("camera %s stopped: %s", self.camera.id, exc)
            self._status("offline", str(exc))
            return
        if not source.live and not self.stop_event.is_set():
            self._status("offline", Msg("the file ended"))

    def use_zones(self, zones: list[ZoneConfig]) -> None:
        """Edited zones, applied before the next sample (from another thread); ``ValueError``
        names a class the model does not know, and nothing changes then."""
        self.analyzer.class_ids_of(zones)
        self._pending_zones = list(zones)

    def process(self, t: float, image) -> None:
        if self._pending_zones is not None:
            zones, self._pending_zones = self._pending_zones, None
            changed = self.pipeline.use_zones(zones)
            self.unchanged.use_zones(zones)
            self.camera = self.analyzer.camera
            log.info("camera %s: zones %s changed, applied", self.camera.id, ", ".join(changed) or "(none)")
        change = self.scene.check(t, image)
        if change is True:
            self._status("stalled" if self.scene.stalled else "suspended",
                         Msg("{why}; zones paused until the view is back", why=self.scene.reason))
        elif change is False:
            self._status("online", Msg("the view is back as learnt; zones resumed"))
        if self.scene.paused:
            self.frames_suspended += 1
            return  # no violation decided, none cleared, on a view the zones do not fit
        detections = self.unchanged.detect(t, image, self.detector.detect)
        self.metrics.frames_analysed.labels(self.camera.id).inc()
        self.frames_analysed += 1
        evidence = partial(self.main.hold, t) if self.main is not None else None
        for event, stored in self.pipeline.frame(t, image, detections, self._evidence_failed, evidence):
            self.metrics.events.labels(self.camera.id, event.state.value).inc()
            self.emit(event, [str(image.path) for image in stored])

    def _evidence_failed(self, exc: EvidenceError) -> None:
        log.error("camera %s: %s; the event goes out without a snapshot", self.camera.id, exc)


class EdgeRunner:
    def __init__(
        self, config: EdgeConfig, speed: float = 1.0, on_event: Callable[[ViolationEvent], None] | None = None,
        config_path: Path | None = None, watch_interval_s: float = 5.0,
    ) -> None:
        self.config = config
        self.watcher = (ConfigWatcher(config_path, config.edge_id, self._config_changed, watch_interval_s)
                        if config_path else None)
        self.speed = speed
        self.on_event = on_event
        self.detector = YoloDetector.from_config(config.model)
        notice = cpu_notice(config.model, self.detector)
        if notice is not None:
            log.warning("model %s: %s", config.model.path, notice)
        self.outbox = Outbox(config.outbox.path)
        self.evidence = EvidenceStore(config.evidence.dir, config.evidence.jpeg_quality, config.evidence.upload_url,
                                      config.evidence.retention(), self.outbox.pending_evidence,
                                      Captioner(config.locale, config.timezone, config.evidence.caption_font))
        self.metrics = EdgeMetrics()
        self.scheduler = BatchScheduler(self.detector, config.model.batch, config.model.batch_wait_ms / 1000,
                                        self.metrics, workers=config.model.inference_plan()[1])
        self.metrics.watch_outbox(self.outbox.depth)
        self.metrics.watch_evidence(lambda: self.evidence.pruned_total)
        self.stop_event = threading.Event()
        classes = [*self.detector.class_names, FOREGROUND_CLASS]
        self.zone_tests = ZoneTests(config, list(self.detector.class_names), self._camera_recent,
                                    lambda answer: self.publisher.answer(answer), self.stop_event)
        self.publisher = Publisher(config.edge_id, config.mqtt, config.evidence, self.outbox,
                                   on_published=self.metrics.published.inc, classes=classes,
                                   on_zone_test=self.zone_tests.submit, on_zones=self._zones_pushed)
        self.metrics_server = None
        self.events_decided = 0
        enabled = [cam for cam in config.cameras if cam.enabled]
        threads = decode_threads(len(enabled))
        self.workers = [
            CameraWorker(config, cam, self.scheduler, self.evidence, self._emit, self.stop_event, speed,
                         self.publisher.set_camera_status, self.metrics, threads)
            for cam in enabled
        ]

    def _camera_recent(self, camera_id: str) -> tuple[CameraConfig, RecentSamples | None] | None:
        """A camera of this box as it runs now, and its recent samples."""
        for worker in self.workers:
            if worker.camera.id == camera_id:
                return worker.camera, worker.recent
        return None

    def _zones_pushed(self, payload: bytes) -> None:
        """Zones a dispatcher pushed (contract/configpush.py): checked whole (the zone model, this
        box's id, every camera's classes in the model) and applied at each camera's next sample,
        or refused whole, the reason said in the box's status."""
        try:
            pushed = PushedZones.model_validate_json(payload)
        except ValidationError as exc:
            log.error("pushed zones refused: %s", first_error(exc))
            self.publisher.zones_state(self.publisher.zones_version, f"?: {first_error(exc)}")
            return
        if pushed.edge_id != self.config.edge_id:
            self.publisher.zones_state(self.publisher.zones_version,
                                       f"{pushed.version}: meant for box {pushed.edge_id}, not {self.config.edge_id}")
            return
        if self.publisher.zones_version is not None and pushed.version <= self.publisher.zones_version:
            return  # already running it (a retained copy after a reconnect)
        workers = {w.camera.id: w for w in self.workers}
        try:
            for camera_id, zones in pushed.cameras.items():
                if camera_id in workers:
                    workers[camera_id].analyzer.class_ids_of(zones)
        except ValueError as exc:
            log.error("pushed zones version %s refused: %s", pushed.version, exc)
            self.publisher.zones_state(self.publisher.zones_version, f"{pushed.version}: {exc}")
            return
        for camera_id, zones in pushed.cameras.items():
            if camera_id not in workers:
                log.warning("pushed zones name camera %s, which this box does not run", camera_id)
            elif zones != workers[camera_id].camera.zones:
                workers[camera_id].use_zones(zones)
        log.info("pushed zones version %s (saved by %s) applied", pushed.version, pushed.saved_by or "?")
        self.publisher.zones_state(pushed.version, "")

    def _config_changed(self, config: EdgeConfig) -> None:
        """The config file changed: apply the cameras' edited zones now; anything else at the
        next start."""
        for worker in self.workers:
            try:
                fresh = config.camera(worker.camera.id)
            except KeyError:
                log.warning("camera %s left the config: it stops at the next start", worker.camera.id)
                continue
            if fresh.zones != worker.camera.zones:
                try:
                    worker.use_zones(fresh.zones)
                except ValueError as exc:
                    log.error("camera %s: edited zones not applied: %s", worker.camera.id, exc)
        if config.model_dump(exclude={"cameras"}) != self.config.model_dump(exclude={"cameras"}) or {
                c.id for c in config.cameras} != {w.camera.id for w in self.workers}:
            log.warning("the config changed beyond zones: that applies at the next start")

    def _emit(self, event: ViolationEvent, evidence_paths: list[str]) -> None:
        self.outbox.put(event.topic(), event.model_dump_json().encode(), evidence_paths)
        self.events_decided += 1
        if self.on_event is not None:
            self.on_event(event)
        log.info("event %s %s %s/%s dwell %.1fs", event.state.value, event.kind.value,
                 event.camera_id, event.zone_id, event.dwell_s)

    def start(self) -> None:
        if self.config.metrics is not None:
            self.metrics_server = self.metrics.serve(self.config.metrics.host, self.config.metrics.port, self.health)
            log.info("metrics on http://%s:%s/metrics, health at /healthz", self.config.metrics.host,
                     self.metrics_server.server_port)
        self.zone_tests.start()
        self.publisher.start()
        self.scheduler.start()
        self.evidence.prune()
        self._pruner = threading.Thread(target=self._prune_loop, name="evidence-pruner", daemon=True)
        self._pruner.start()
        for worker in self.workers:
            worker.start()
        if self.watcher is not None:
            self.watcher.start()

    def health(self) -> dict[str, Any]:
        """For probes: unavailable while the broker is away, when no camera is online, or when
        the outbox holds more than ``outbox.max_healthy`` events (delivery is falling behind)."""
        problems = []
        connected = self.publisher.connected
        if not connected:
            problems.append("broker: not connected")
        states = [w.current.state.value if w.current else "starting" for w in self.workers]
        online = states.count("online")
        if self.workers and online == 0:
            problems.append("cameras: none online")
        depth = self.outbox.depth()
        if depth > self.config.outbox.max_healthy:
            problems.append(f"outbox: {depth} events waiting (more than {self.config.outbox.max_healthy})")
        return {"status": "unavailable" if problems else "ok", "problems": problems, "broker_connected": connected,
                "cameras": {"enabled": len(self.workers), "online": online}, "outbox_depth": depth}

    def _prune_loop(self) -> None:
        while not self.stop_event.wait(self.config.evidence.prune_every_s):
            try:
                self.evidence.prune()
            except OSError as exc:
                log.error("evidence pruning failed: %s", exc)

    def wait(self) -> None:
        """Until every camera has ended (files) or stop() is called."""
        for worker in self.workers:
            while worker.is_alive():
                worker.join(0.5)

    def stop(self, flush_timeout_s: float = 10.0) -> None:
        self.stop_event.set()
        if self.watcher is not None:
            self.watcher.stop()
        for worker in self.workers:
            worker.join(5)
        self.scheduler.stop()
        if not self.publisher.flush(flush_timeout_s):
            log.warning("%d events stay in the outbox %s for the next start", self.outbox.depth(), self.outbox.path)
        self.publisher.stop()
        if self.metrics_server is not None:
            self.metrics_server.shutdown()
        self.outbox.close()
