"""One camera's decision path: detections → tracker → zone rules → violation events."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import cv2
import numpy as np

from contract import (
    DetectedObject,
    EventState,
    ViolationEvent,
    event_id_for,
    violation_id_for,
)
from edge.config import BlurMode, CameraConfig, EdgeConfig, TrackingConfig, ZoneConfig
from edge.detections import Detections
from edge.evidence import EvidenceError, EvidenceStore, StoredImage
from edge.foreground import FOREGROUND_CLASS, StationaryForeground
from edge.history import FrameHistory
from edge.privacy import pixelate_people, pixelate_plates, plate_classes_of
from edge.rules import Decision, ZoneRule
from edge.tracker import TrackedObject, Tracker
from edge.zones import ZoneShape

Clock = Callable[[float], datetime]


RIDER_MIN_CONFIDENCE = 0.25
BEFORE_MARGIN_S = 3.0  # the before image predates the object's rest by this much (it was moving in)


def history_span_s(zones: Sequence[ZoneConfig]) -> float:
    """How far back a camera keeps frames for before images: its longest dwell, a margin,
    at most 15 minutes (a frame every 5 s at 960 px is some 50 kB)."""
    return min(900.0, max(z.dwell_s for z in zones) + 60.0)


def _foreground_zones(zones: Iterable[ZoneConfig]) -> list[ZoneConfig]:
    """The zones that count what the background model finds."""
    return [z for z in zones if FOREGROUND_CLASS in z.classes]


def media_clock(start: datetime) -> Clock:
    """Media time (seconds from the source start) → timestamp."""
    return lambda t: start + timedelta(seconds=t)


class CameraAnalyzer:
    def __init__(
        self,
        edge_id: str,
        camera: CameraConfig,
        class_names: Sequence[str],
        tracking: TrackingConfig,
        clock: Clock,
        timezone: str = "Asia/Shanghai",
        blur: BlurMode = "none",
        plate_classes: Sequence[str] = (),
    ) -> None:
        self.edge_id = edge_id
        self.blur = blur
        self.timezone = ZoneInfo(timezone)
        self.camera = camera
        if FOREGROUND_CLASS in class_names:
            raise ValueError(f"the model has a class named {FOREGROUND_CLASS!r}, the name zones use for what the "
                             "background model finds; rename it in model.class_names")
        # The model's classes and one more: new stationary things no class covers (edge/foreground.py).
        self.class_names = [*class_names, FOREGROUND_CLASS]
        self.foreground_id = len(self.class_names) - 1
        self.foreground: StationaryForeground | None = None
        self.tracking = tracking
        self.clock = clock
        self.zone_class_ids = self.class_ids_of(camera.zones)
        self.tracked_class_ids = sorted({c for ids in self.zone_class_ids.values() for c in ids})
        self.tracker = Tracker(tracking, self.zone_class_ids.values(), len(self.class_names))
        self.rules: list[ZoneRule] | None = None
        self.frame_wh: tuple[int, int] | None = None
        self.last_objects: list[TrackedObject] = []
        self.history = FrameHistory(history_span_s(camera.zones))
        self.person_ids = self._ids(["person"])  # pixelated in stored images when blur is on
        # their plates pixelated in stored images; the background model's class carries none
        self.plate_ids = self._known_ids(plate_classes, "evidence.plate_classes", class_names)
        self.rider_ids = self._rider_ids(camera.zones)

    def _known_ids(self, names: Sequence[str], where: str, known: Sequence[str] | None = None) -> list[int]:
        """The ids of ``names``; ``ValueError`` naming ``where`` for a name not in ``known``
        (by default the model's classes and the background model's)."""
        known = self.class_names if known is None else known
        unknown = [c for c in names if c not in known]
        if unknown:
            raise ValueError(f"{where}: classes {unknown} are not among the model's classes "
                             f"({', '.join(known[:12])}, ...)")
        return [self.class_names.index(c) for c in names]

    def class_ids_of(self, zones: Sequence[ZoneConfig]) -> dict[str, list[int]]:
        """Each zone's class ids in the model; ``ValueError`` names a class the model lacks."""
        return {zone.id: self._known_ids(zone.classes, f"camera {self.camera.id} zone {zone.id}") for zone in zones}

    def use_zones(self, zones: Sequence[ZoneConfig]) -> list[str]:
        """Apply edited zones between samples (the console's zone editor saved them). A zone
        that did not change keeps its state; a new or changed zone starts afresh, and what a
        changed or removed zone held open is no longer followed by this camera (its case goes
        on with people). Returns the ids of the zones that changed, came or went."""
        class_ids = self.class_ids_of(zones)
        before = {z.id: z for z in self.camera.zones}
        after = {z.id: z for z in zones}
        changed = [i for i in after if before.get(i) != after[i]] + [i for i in before if i not in after]
        kept = {r.zone.id: r for r in self.rules or [] if after.get(r.zone.id) == r.zone}
        self.camera = self.camera.model_copy(update={"zones": list(zones)})
        if any(z.id in changed for z in _foreground_zones([*before.values(), *zones])):
            self.foreground = None  # its mask changed: learnt again from the next frame
        self.history.span_s = history_span_s(zones)
        self.rider_ids = self._rider_ids(zones)
        self.zone_class_ids = class_ids
        tracked = sorted({c for ids in class_ids.values() for c in ids})
        if tracked != self.tracked_class_ids:  # other classes to follow: tracks start again
            self.tracked_class_ids = tracked
            self.tracker = Tracker(self.tracking, class_ids.values(), len(self.class_names))
        if self.rules is not None and self.frame_wh is not None:
            self.rules = [kept.get(z.id) or self._rule(z, self.frame_wh) for z in zones]
        return changed

    @classmethod
    def from_config(
        cls, config: EdgeConfig, camera: CameraConfig, class_names: Sequence[str], clock: Clock
    ) -> CameraAnalyzer:
        return cls(config.edge_id, camera, class_names, config.tracking, clock, config.timezone, config.evidence.blur,
                   plate_classes_of(config.evidence, class_names))

    def _rules_for(self, frame_wh: tuple[int, int]) -> list[ZoneRule]:
        if self.rules is None or self.frame_wh != frame_wh:
            self.frame_wh = frame_wh
            self.rules = [self._rule(zone, frame_wh) for zone in self.camera.zones]
        return self.rules

    def _with_foreground(self, t: float, image: np.ndarray, detections: Detections) -> Detections:
        """``detections`` and, where zones ask for them, the new stationary blobs as objects."""
        zones = _foreground_zones(self.camera.zones)
        if not zones:
            return detections
        height, width = image.shape[:2]
        if self.foreground is None or self.foreground.frame_hw != (height, width):
            mask = np.zeros((height, width), np.uint8)
            for zone in zones:
                shape = ZoneShape(zone, (width, height))
                cv2.fillPoly(mask, [shape.points_px.round().astype(np.int32)], 255)
            self.foreground = StationaryForeground(mask)
        is_person = np.isin(detections.class_id, self.person_ids) & (detections.confidence >= RIDER_MIN_CONFIDENCE)
        blobs = self.foreground.update(t, image, detections.xyxy[is_person], detections.xyxy[~is_person])
        if not len(blobs):
            return detections
        return Detections(
            np.concatenate([detections.xyxy, blobs.xyxy]),
            np.concatenate([detections.confidence, blobs.confidence]),
            np.concatenate([detections.class_id, np.full(len(blobs), self.foreground_id, np.int32)]),
        )

    def _ids(self, names: Sequence[str]) -> list[int]:
        """The model's ids of ``names``; names the model does not know are left out."""
        return [self.class_names.index(n) for n in names if n in self.class_names]

    def _rule(self, zone: ZoneConfig, frame_wh: tuple[int, int]) -> ZoneRule:
        return ZoneRule(zone, ZoneShape(zone, frame_wh), self.zone_class_ids[zone.id], self.tracking,
                        self._ids(zone.ridable))

    def _rider_ids(self, zones: Sequence[ZoneConfig]) -> list[int]:
        return self._ids(sorted({n for z in zones for n in z.riders}))

    def _riders(self, detections: Detections) -> np.ndarray:
        """This frame's boxes of the zones' rider classes (people), tracked or not."""
        pick = np.isin(detections.class_id, self.rider_ids) & (detections.confidence >= RIDER_MIN_CONFIDENCE)
        return detections.xyxy[pick]

    @property
    def busy(self) -> bool:
        """Whether any zone had something to watch at the last sample (see ``Sampler.follow``)."""
        return any(rule.busy or rule.spots for rule in self.rules or [])

    def shapes(self) -> list[ZoneShape]:
        return [rule.shape for rule in self.rules or []]

    def update(self, t: float, detections: Detections, frame_wh: tuple[int, int]) -> list[Decision]:
        keep = [i for i, c in enumerate(detections.class_id) if int(c) in self.tracked_class_ids]
        objects = self.tracker.update(t, detections[keep])
        self.last_objects = objects
        decisions: list[Decision] = []
        riders = self._riders(detections)
        local = self.clock(t).astimezone(self.timezone)
        for rule in self._rules_for(frame_wh):
            windows = rule.zone.active
            active = windows is None or any(w.covers(local) for w in windows)
            decisions.extend(rule.update(t, objects, active, riders))
        return decisions

    def events_for_frame(
        self,
        t: float,
        image: np.ndarray,
        detections: Detections,
        evidence: EvidenceStore | None,
        on_evidence_error: Callable[[EvidenceError], None],
    ) -> list[tuple[ViolationEvent, list[StoredImage]]]:
        """The events this frame decides, each with its stored images when evidence is kept:
        the snapshot, a crop of each object and, for an opened violation, the spot before the
        object came to rest.
        An image that cannot be stored goes to ``on_evidence_error`` (which may re-raise);
        the event itself is never dropped for it."""
        height, width = image.shape[:2]
        out: list[tuple[ViolationEvent, list[StoredImage]]] = []
        if evidence is not None:  # before any of this frame is stored
            image = pixelate_plates(image, detections.xyxy[np.isin(detections.class_id, self.plate_ids)])
            image = pixelate_people(image, detections.xyxy[np.isin(detections.class_id, self.person_ids)], self.blur)
        detections = self._with_foreground(t, image, detections)
        for decision in self.update(t, detections, (width, height)):
            event, stored = self.event_for(decision), []
            if evidence is not None:
                try:
                    stored.append(evidence.save(image, event, self.shapes()))
                    event.snapshot = stored[0].snapshot
                    stored.extend(evidence.save_crops(image, event))
                    prior = (self.history.before(decision.spot.since - BEFORE_MARGIN_S)
                             if decision.state is EventState.opened else None)
                    if prior is not None and prior[1].shape[:2] == image.shape[:2]:
                        stored.append(evidence.save(prior[1], event, self.shapes(), before_at=self.clock(prior[0])))
                        event.before = stored[-1].snapshot
                except EvidenceError as exc:
                    on_evidence_error(exc)
            out.append((event, stored))
        if evidence is not None:
            self.history.add(t, image)
        return out

    def event_for(self, decision: Decision) -> ViolationEvent:
        spot, zone = decision.spot, decision.zone
        started_at = self.clock(spot.since)
        if spot.violation_id is None:
            spot.violation_id = violation_id_for(self.edge_id, self.camera.id, zone.id, spot.spot_id, started_at)
        x1, y1, x2, y2 = (round(float(v), 1) for v in spot.box)
        return ViolationEvent(
            event_id=event_id_for(spot.violation_id, decision.state,
                                  spot.updates if decision.state is EventState.updated else 0),
            violation_id=spot.violation_id,
            kind=zone.kind,
            state=decision.state,
            edge_id=self.edge_id,
            camera_id=self.camera.id,
            zone_id=zone.id,
            micro_grid=zone.micro_grid,
            location=zone.location,
            shop_id=zone.shop_id,
            started_at=started_at,
            observed_at=self.clock(decision.time_s),
            dwell_s=round(decision.dwell_s, 3),
            objects=[
                DetectedObject(
                    class_name=self.class_names[spot.class_id],
                    confidence=round(min(max(spot.confidence, 0.0), 1.0), 4),
                    bbox=(x1, y1, x2, y2),
                    track_id=spot.spot_id,
                )
            ],
        )


__all__ = ["CameraAnalyzer", "Clock", "media_clock"]
