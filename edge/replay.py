"""Replay: the same tracker and rules as a live camera, in media time, as fast as possible.

Two inputs: a video (decoded with PyAV, detected with the model) or a MOTChallenge
detection file (no model needed). Event timestamps are ``start`` plus the deciding frame's
media time, so each event says exactly which frame decided it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from functools import partial
from pathlib import Path

from contract import ViolationEvent
from edge.analyzer import CameraAnalyzer, media_clock
from edge.config import CameraConfig, EdgeConfig
from edge.detections import COCO_NAMES
from edge.detector import YoloDetector
from edge.event_builder import EventBuilder
from edge.evidence import EvidenceError, EvidenceStore
from edge.mainstream import MainStream
from edge.mot import iter_mot_frames, read_mot
from edge.pipeline import CameraPipeline
from edge.source import read_frames
from edge.unchanged import UnchangedGate

EventSink = Callable[[ViolationEvent], None]


def replay_mot(
    config: EdgeConfig,
    camera: CameraConfig,
    mot_path: str | Path,
    fps: float,
    start: datetime,
    frame_wh: tuple[int, int],
    class_names: list[str] | None = None,
    on_time: Callable[[float], None] | None = None,
) -> Iterator[ViolationEvent]:
    """Events from a MOT detection file; frame ``n`` is at ``(n - 1) / fps`` seconds.
    ``on_time`` hears the media time replayed so far (a progress bar)."""
    clock = media_clock(start)
    analyzer = CameraAnalyzer.from_config(config, camera, class_names or list(COCO_NAMES), clock)
    events = EventBuilder(config.edge_id, camera.id, analyzer.class_names, clock)
    sampler = camera.sampler()
    for frame, detections in iter_mot_frames(read_mot(mot_path)):
        t = (frame - 1) / fps
        if on_time is not None:
            on_time(t)
        if not sampler.due(t):
            continue
        for decision in analyzer.update(t, detections, frame_wh):
            yield events.event(decision)
        sampler.follow(analyzer.busy)


def replay_video(
    config: EdgeConfig,
    camera: CameraConfig,
    video: str | Path,
    start: datetime,
    detector: YoloDetector,
    evidence: EvidenceStore | None = None,
    on_evidence_error: Callable[[EvidenceError], None] | None = None,
    main_video: str | Path | None = None,
    on_time: Callable[[float], None] | None = None,
) -> Iterator[ViolationEvent]:
    """Events from a video file, sampled at the camera's ``sample_fps``; with ``main_video`` (the
    same scene at a larger size), ``video`` is the substream detected on and the evidence
    comes from ``main_video``'s keyframes. ``on_time`` hears the media time replayed so far."""
    pipeline = CameraPipeline.from_config(config, camera, detector.class_names, media_clock(start), evidence)
    main = MainStream(str(main_video)) if main_video is not None else None
    unchanged = UnchangedGate(camera.unchanged, camera.zones)
    sampler = camera.sampler()
    for raw in read_frames(str(video)):
        if on_time is not None:
            on_time(raw.time_s)
        if not sampler.due(raw.time_s, raw.key):
            continue
        image = raw.to_bgr()
        t = raw.time_s
        picture = partial(main.hold, t) if main is not None else None
        detections = unchanged.detect(t, image, detector.detect)
        for event, _ in pipeline.frame(t, image, detections, on_evidence_error or _raise, picture):
            yield event
        sampler.follow(pipeline.analyzer.busy)


def _raise(exc: EvidenceError) -> None:
    raise exc
