"""One camera's frame path after the detector: the analyzer decides, its consumers follow.

    detections → [recorder.protect] → analyzer.decide → event_builder.event → recorder.record

The live runner (:mod:`edge.runner`) and the replay (:mod:`edge.replay`) both go through
:class:`CameraPipeline`, so a replayed clip decides exactly as a camera would.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from contract import ViolationEvent
from edge.analyzer import CameraAnalyzer, Clock
from edge.config import CameraConfig, EdgeConfig, ZoneConfig
from edge.detections import Detections
from edge.event_builder import EventBuilder
from edge.evidence import EvidenceError, EvidenceStore, StoredImage
from edge.recorder import EvidenceRecorder

FrameEvents = list[tuple[ViolationEvent, list[StoredImage]]]


class CameraPipeline:
    def __init__(self, analyzer: CameraAnalyzer, events: EventBuilder, recorder: EvidenceRecorder | None) -> None:
        self.analyzer = analyzer
        self.events = events
        self.recorder = recorder  # None: no evidence kept (a replay that only counts events)

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
              on_evidence_error: Callable[[EvidenceError], None]) -> FrameEvents:
        """The events the frame at media time ``t`` decides, each with its stored images.
        Privacy comes first: the frame is pixelated before the background model or the
        evidence sees it. An image that cannot be stored goes to ``on_evidence_error``; the
        event itself is never dropped for it."""
        if self.recorder is not None:
            image = self.recorder.protect(image, detections)
        out: FrameEvents = []
        for decision in self.analyzer.decide(t, image, detections):
            event = self.events.event(decision)
            stored = ([] if self.recorder is None else
                      self.recorder.record(image, decision, event, self.analyzer.shapes(), on_evidence_error))
            out.append((event, stored))
        if self.recorder is not None:
            self.recorder.remember(t, image)
        return out
