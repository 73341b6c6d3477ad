"""What a camera keeps for its decisions: privacy first, then snapshots, crops, before images.

Every frame is pixelated (people, licence plates) before anything of it is stored or kept in
the camera's recent past. For each event the recorder stores the snapshot with the zones drawn,
a crop of each object and, for an opened violation, the spot from before the object came to
rest, and sets their links on the event.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from contract import EventState, ViolationEvent
from edge.analyzer import Clock, class_ids
from edge.config import BlurMode, EdgeConfig, ZoneConfig
from edge.detections import Detections
from edge.evidence import EvidenceError, EvidenceStore, StoredImage
from edge.history import FrameHistory, KeptPicture
from edge.privacy import pixelate_people, pixelate_plates, plate_classes_of
from edge.rules import Decision
from edge.zones import ZoneShape

BEFORE_MARGIN_S = 3.0  # the before image predates the object's rest by this much (it was moving in)


def history_span_s(zones: Sequence[ZoneConfig]) -> float:
    """How far back a camera keeps frames for before images: its longest dwell, a margin,
    at most 15 minutes (a frame every 5 s, within the byte budget of edge.history.FrameHistory)."""
    return min(900.0, max(z.dwell_s for z in zones) + 60.0)


class EvidenceRecorder:
    def __init__(
        self,
        store: EvidenceStore,
        class_names: Sequence[str],
        zones: Sequence[ZoneConfig],
        clock: Clock,
        blur: BlurMode = "none",
        plate_classes: Sequence[str] = (),
    ) -> None:
        self.store = store
        self.clock = clock
        self.blur = blur
        self.person_ids = [class_names.index("person")] if "person" in class_names else []
        self.plate_ids = class_ids(plate_classes, class_names, "evidence.plate_classes")
        self.history = FrameHistory(history_span_s(zones))

    @classmethod
    def from_config(cls, config: EdgeConfig, store: EvidenceStore, class_names: Sequence[str],
                    zones: Sequence[ZoneConfig], clock: Clock) -> EvidenceRecorder:
        return cls(store, class_names, zones, clock, config.evidence.blur,
                   plate_classes_of(config.evidence, class_names))

    def use_zones(self, zones: Sequence[ZoneConfig]) -> None:
        self.history.span_s = history_span_s(zones)

    def protect(self, image: np.ndarray, detections: Detections) -> np.ndarray:
        """``image`` with plates and people pixelated (a copy where anything was)."""
        image = pixelate_plates(image, detections.xyxy[np.isin(detections.class_id, self.plate_ids)])
        return pixelate_people(image, detections.xyxy[np.isin(detections.class_id, self.person_ids)], self.blur)

    def record(
        self,
        image: np.ndarray,
        decision: Decision,
        event: ViolationEvent,
        shapes: list[ZoneShape],
        on_error: Callable[[EvidenceError], None],
    ) -> list[StoredImage]:
        """Stores the images of ``event`` from the protected ``image`` and links them on it.
        An image that cannot be stored goes to ``on_error`` (which may re-raise); the event
        keeps what was stored before it."""
        stored: list[StoredImage] = []
        try:
            stored.append(self.store.save(image, event, shapes))
            event.snapshot = stored[0].snapshot
            stored.extend(self.store.save_crops(image, event))
            prior = (self.history.before(decision.spot.since - BEFORE_MARGIN_S)
                     if decision.state is EventState.opened else None)
            if prior is not None and prior[1].shape[:2] == image.shape[:2]:
                stored.append(self.store.save(prior[1], event, shapes, before_at=self.clock(prior[0])))
                event.before = stored[-1].snapshot
        except EvidenceError as exc:
            on_error(exc)
        return stored

    def remember(self, t: float, image: np.ndarray) -> None:
        """The protected frame at media time ``t`` joins the camera's recent past."""
        self.history.add(t, image)

    def remember_later(self, t: float, picture: KeptPicture, detections: Detections) -> None:
        """A main-stream keyframe at media time ``t`` joins the camera's recent past still
        compressed; protected with ``detections`` (in its pixels) if it is ever decoded."""
        self.history.add_later(t, picture, lambda image: self.protect(image, detections))
