"""A zone tried on a camera's recent past before it is saved: the box's recent samples
(edge/recent.py) replayed through the edited zone alone, with a fresh tracker and rules, in
the samples' own times; what would have opened, updated and cleared, each with the small
picture nearest its moment.

What the background model found is replayed as it was found: inside the camera's saved
zones that ask for ``stationary_object``; a new zone elsewhere sees the model's classes only
until it is saved and the background model has learnt its area.
"""

from __future__ import annotations

import base64
import json
import logging
import queue
import re
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError

from contract.configfile import first_error
from contract.zonetest import MAX_TEST_EVENTS, ZoneTestAnswer, ZoneTestEvent, ZoneTestRequest
from edge.analyzer import CameraAnalyzer
from edge.config import CameraConfig, EdgeConfig
from edge.recent import RecentSamples

log = logging.getLogger(__name__)


def zone_test(config: EdgeConfig, camera: CameraConfig, class_names: list[str], recent: RecentSamples,
              request: ZoneTestRequest, now: datetime | None = None) -> ZoneTestAnswer:
    """The answer to ``request`` from ``recent`` (the camera's samples of the last minutes)."""
    answer = ZoneTestAnswer(request_id=request.request_id, edge_id=config.edge_id, camera_id=camera.id, samples=0)
    since = (now or datetime.now(UTC)) - timedelta(minutes=request.minutes)
    samples = recent.samples(since)
    if not samples:
        return answer
    first = samples[0].at
    trial = camera.model_copy(update={"zones": [request.zone]})
    try:
        analyzer = CameraAnalyzer.from_config(config, trial, class_names, lambda t: first + timedelta(seconds=t))
    except ValueError as exc:  # a class the model does not know
        return answer.model_copy(update={"error": str(exc)[:500]})
    events: list[ZoneTestEvent] = []
    more = False
    for sample in samples:
        t = (sample.at - first).total_seconds()
        for decision in analyzer.update(t, sample.detections, sample.frame_wh):
            if len(events) >= MAX_TEST_EVENTS:
                more = True
                continue
            spot = decision.spot
            box = tuple(float(v) for v in spot.box)
            at = first + timedelta(seconds=decision.time_s)
            thumbnail = recent.thumbnail(at, box, sample.frame_wh)  # type: ignore[arg-type]
            class_id = spot.class_votes.most_common(1)[0][0] if spot.class_votes else 0
            events.append(ZoneTestEvent(
                state=decision.state, at=at, object_class=analyzer.class_names[class_id], bbox=box,
                dwell_s=round(decision.dwell_s, 1),
                thumbnail_jpeg=base64.b64encode(thumbnail).decode() if thumbnail else None))
    return answer.model_copy(update={"samples": len(samples), "since": first, "until": samples[-1].at,
                                     "events": events, "more": more})


def refused(config: EdgeConfig, request_id: uuid.UUID, camera_id: str, why: str) -> ZoneTestAnswer:
    return ZoneTestAnswer(request_id=request_id, edge_id=config.edge_id, camera_id=camera_id, samples=0,
                          error=why[:500])




class ZoneTests(threading.Thread):
    """Answers zone test requests one at a time, off the MQTT thread. A request that does not
    validate is dropped with a log line (no id to answer to) unless its id can be read; a full
    queue refuses at once (the console tries again)."""

    def __init__(self, config: EdgeConfig, class_names: list[str],
                 camera: Callable[[str], tuple[CameraConfig, RecentSamples | None] | None],
                 answer: Callable[[ZoneTestAnswer], None], stop: threading.Event) -> None:
        super().__init__(name="zone-tests", daemon=True)
        self.config, self.class_names, self.camera, self.answer, self.stop = config, class_names, camera, answer, stop
        self.queue: queue.Queue[ZoneTestRequest] = queue.Queue(maxsize=4)

    def submit(self, payload: bytes) -> None:
        try:
            request = ZoneTestRequest.model_validate_json(payload)
        except ValidationError as exc:
            log.warning("zone test request refused: %s", first_error(exc))
            self._refuse_unreadable(payload, exc)
            return
        try:
            self.queue.put_nowait(request)
        except queue.Full:
            self.answer(refused(self.config, request.request_id, request.camera_id,
                                "the box is busy with other zone tests: try again"))

    def _refuse_unreadable(self, payload: bytes, exc: ValidationError) -> None:
        try:
            data = json.loads(payload)
            request_id, camera_id = uuid.UUID(str(data["request_id"])), str(data.get("camera_id", "unknown"))[:64]
            known = re.fullmatch(r"[A-Za-z0-9_.\-]{1,64}", camera_id)
            self.answer(refused(self.config, request_id, camera_id if known else "unknown",
                                f"the request does not validate: {first_error(exc)}"))
        except (ValueError, KeyError, TypeError, ValidationError):
            pass

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                request = self.queue.get(timeout=0.5)
            except queue.Empty:
                continue
            found = self.camera(request.camera_id)
            if found is None:
                self.answer(refused(self.config, request.request_id, request.camera_id,
                                    f"camera {request.camera_id} is not on this box"))
                continue
            camera, recent = found
            if recent is None:
                self.answer(refused(self.config, request.request_id, request.camera_id,
                                    "this box keeps no recent samples (zone_test.keep_min is 0)"))
                continue
            try:
                self.answer(zone_test(self.config, camera, self.class_names, recent, request))
            except Exception as exc:  # one bad test must not end the thread that answers them
                log.exception("zone test of camera %s failed", request.camera_id)
                self.answer(refused(self.config, request.request_id, request.camera_id, f"the test failed: {exc}"))


__all__ = ["ZoneTests", "refused", "zone_test"]
