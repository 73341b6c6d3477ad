"""One camera's frame path after the detector: the analyzer decides, its consumers follow.

    detections → [recorder.protect] → analyzer.decide → event_builder.event → recorder.record

The live runner (:mod:`edge.runner`) and the replay (:mod:`edge.replay`) both go through
:class:`CameraPipeline`, so a replayed clip decides exactly as a camera would.

A camera that detects on its substream (``CameraConfig.detect_url``) gives each frame its main
stream's picture of the same moment as well: the analyzer decides on the small frame, the
evidence is taken from the large one, boxes scaled, and the events' boxes are in the main
stream's pixels (those of their snapshots) from the first main frame on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np

from contract import ViolationEvent
from edge.analyzer import CameraAnalyzer, Clock
from edge.config import CameraConfig, EdgeConfig, ZoneConfig
from edge.detections import Detections
from edge.event_builder import EventBuilder
from edge.evidence import EvidenceError, EvidenceStore, StoredImage
from edge.mainstream import HeldKeyframe
from edge.recorder import EvidenceRecorder
from edge.rules import Decision
from edge.zones import ZoneShape

FrameEvents = list[tuple[ViolationEvent, list[StoredImage]]]


class CameraPipeline:
    def __init__(self, analyzer: CameraAnalyzer, events: EventBuilder, recorder: EvidenceRecorder | None) -> None:
        self.analyzer = analyzer
        self.events = events
        self.recorder = recorder  # None: no evidence kept (a replay that only counts events)
        self.evidence_wh: tuple[int, int] | None = None  # the main stream's size, once a frame of it came

    @classmethod
    def from_config(cls, config: EdgeConfig, camera: CameraConfig, class_names: Sequence[str], clock: Clock,
                    evidence: EvidenceStore | None = None) -> CameraPipeline:
        analyzer = CameraAnalyzer.from_config(config, camera, class_names, clock)
        recorder = (EvidenceRecorder.from_config(config, evidence, class_names, camera.zones, clock)
                    if evidence is not None else None)
        return cls(analyzer, EventBuilder(config.edge_id, camera.id, analyzer.class_names, clock), recorder)

    def use_zones(self, zones: Sequence[ZoneConfig]) -> list[str]:
        """Edited zones, between samples; the ids of the zones that changed, came or went."""
        changed = self.analyzer.use_zones(zones)
        if self.recorder is not None:
            self.recorder.use_zones(zones)
        return changed

    def frame(self, t: float, image: np.ndarray, detections: Detections,
              on_evidence_error: Callable[[EvidenceError], None],
              evidence: Callable[[], HeldKeyframe | None] | None = None) -> FrameEvents:
        """The events the frame at media time ``t`` decides, each with its stored images.
        Privacy comes first: the frame is pixelated before the background model or the
        evidence sees it. An image that cannot be stored goes to ``on_evidence_error``; the
        event itself is never dropped for it. ``evidence``: where ``image`` is the substream's,
        gets the main stream's keyframe of the same moment, still compressed; asked only when
        a picture is wanted (a decision, or the camera's recent past due a frame), and decoded
        only for a decision (the recent past keeps it compressed)."""
        if evidence is None or self.recorder is None:
            if self.recorder is not None:
                image = self.recorder.protect(image, detections)
            return self._decided(t, image, detections, image, (1.0, 1.0), on_evidence_error)
        decisions = self.analyzer.decide(t, image, detections)
        held = evidence() if decisions or self.recorder.history.due(t) else None
        if held is not None:
            self.evidence_wh = held.size
        height, width = image.shape[:2]
        scale = (1.0, 1.0)
        if self.evidence_wh is not None and self.evidence_wh != (width, height):
            scale = (self.evidence_wh[0] / width, self.evidence_wh[1] / height)
        seen = detections.scaled(*scale)
        picture = held() if held is not None and decisions else None
        if picture is None and decisions and scale != (1.0, 1.0):
            # the main stream is away: the substream's frame at its size
            picture = cv2.resize(image, self.evidence_wh, interpolation=cv2.INTER_LINEAR)
        if picture is not None:
            picture = self.recorder.protect(picture, seen)
        if held is not None:
            self.recorder.remember_later(t, held, seen)
        return self._decided(t, image, detections, picture, scale, on_evidence_error, decisions,
                             remember=held is None)

    def _decided(self, t: float, image: np.ndarray, detections: Detections, picture: np.ndarray | None,
                 scale: tuple[float, float], on_evidence_error: Callable[[EvidenceError], None],
                 decisions: list[Decision] | None = None, remember: bool = True) -> FrameEvents:
        """The events of this frame's decisions with their evidence from ``picture``, which
        joins the camera's recent past if ``remember``."""
        if decisions is None:
            decisions = self.analyzer.decide(t, image, detections)
        out: FrameEvents = []
        for decision in decisions:
            event = self.events.event(decision, scale)
            stored = ([] if self.recorder is None or picture is None else
                      self.recorder.record(picture, decision, event, self._shapes(picture, image),
                                           on_evidence_error))
            out.append((event, stored))
        if self.recorder is not None and picture is not None and remember:
            self.recorder.remember(t, picture)
        return out

    def _shapes(self, picture: np.ndarray, image: np.ndarray) -> list[ZoneShape]:
        """The zones placed on the picture the evidence is drawn on."""
        if picture.shape[:2] == image.shape[:2]:
            return self.analyzer.shapes()
        return [ZoneShape(zone, (picture.shape[1], picture.shape[0])) for zone in self.analyzer.camera.zones]
