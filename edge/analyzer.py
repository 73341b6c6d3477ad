"""One camera's decisions: detections → tracker → zone rules → decisions.

The analyzer only decides. What follows from a decision is done by its consumers, wired in
:mod:`edge.pipeline`: the event (:mod:`edge.event_builder`) and the evidence kept for it
(:mod:`edge.recorder`: privacy, the camera's recent past, snapshots, crops, before images).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from edge.config import CameraConfig, EdgeConfig, TrackingConfig, ZoneConfig
from edge.detections import ClassSet, Detections
from edge.foreground import FOREGROUND_CLASS, StationaryForeground
from edge.ground import GroundMap
from edge.recent import RecentSamples
from edge.rules import Decision, ZoneRule
from edge.tracker import Tracker
from edge.zones import ZoneShape, zone_mask

Clock = Callable[[float], datetime]


RIDER_MIN_CONFIDENCE = 0.25


def class_ids(names: Sequence[str], known: Sequence[str], where: str) -> list[int]:
    """The ids of ``names`` among ``known``; ``ValueError`` naming ``where`` for a name not there."""
    unknown = [c for c in names if c not in known]
    if unknown:
        raise ValueError(f"{where}: classes {unknown} are not among the model's classes "
                         f"({', '.join(known[:12])}, ...)")
    return [known.index(c) for c in names]


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
    ) -> None:
        self.edge_id = edge_id
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
        self.tracked = ClassSet(self.tracked_class_ids)
        self.tracker = Tracker(tracking, self.zone_class_ids.values(), len(self.class_names))
        self.rules: list[ZoneRule] | None = None
        self.frame_wh: tuple[int, int] | None = None
        self.person_ids = ClassSet(self._ids(["person"]))  # masked out of the background model
        self.rider_ids = ClassSet(self._rider_ids(camera.zones))
        self.recent: RecentSamples | None = None  # the live camera's recent samples, where kept

    def class_ids_of(self, zones: Sequence[ZoneConfig]) -> dict[str, list[int]]:
        """Each zone's class ids in the model; ``ValueError`` names a class the model lacks."""
        return {zone.id: class_ids(zone.classes, self.class_names, f"camera {self.camera.id} zone {zone.id}")
                for zone in zones}

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
        self.rider_ids = ClassSet(self._rider_ids(zones))
        self.zone_class_ids = class_ids
        tracked = sorted({c for ids in class_ids.values() for c in ids})
        if tracked != self.tracked_class_ids:  # other classes to follow: tracks start again
            self.tracked_class_ids, self.tracked = tracked, ClassSet(tracked)
            self.tracker = Tracker(self.tracking, class_ids.values(), len(self.class_names))
        if self.rules is not None and self.frame_wh is not None:
            self.rules = [kept.get(z.id) or self._rule(z, self.frame_wh) for z in zones]
            self._place_ground(self.frame_wh)
        return changed

    def _place_ground(self, frame_wh: tuple[int, int]) -> None:
        """The tracker judges stillness on the ground where zones give their ground plane."""
        ground = GroundMap(self.camera.zones, frame_wh)
        self.tracker.ground = ground if ground else None

    @classmethod
    def from_config(
        cls, config: EdgeConfig, camera: CameraConfig, class_names: Sequence[str], clock: Clock
    ) -> CameraAnalyzer:
        return cls(config.edge_id, camera, class_names, config.tracking, clock, config.timezone)

    def _rules_for(self, frame_wh: tuple[int, int]) -> list[ZoneRule]:
        if self.rules is None or self.frame_wh != frame_wh:
            self.frame_wh = frame_wh
            self.rules = [self._rule(zone, frame_wh) for zone in self.camera.zones]
            self._place_ground(frame_wh)
        return self.rules

    def _with_foreground(self, t: float, image: np.ndarray, detections: Detections) -> Detections:
        """``detections`` and, where zones ask for them, the new stationary blobs as objects."""
        zones = _foreground_zones(self.camera.zones)
        if not zones:
            return detections
        height, width = image.shape[:2]
        if self.foreground is None or self.foreground.frame_hw != (height, width):
            self.foreground = StationaryForeground(zone_mask(zones, (width, height)))
        is_person = self.person_ids.mask(detections.class_id) & (detections.confidence >= RIDER_MIN_CONFIDENCE)
        blobs = self.foreground.update(t, image, detections.xyxy[is_person], detections.xyxy[~is_person])
        blobs = Detections(blobs.xyxy, blobs.confidence, np.full(len(blobs), self.foreground_id, np.int32))
        return Detections.merge([detections, blobs])

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
        pick = self.rider_ids.mask(detections.class_id) & (detections.confidence >= RIDER_MIN_CONFIDENCE)
        return detections.xyxy[pick]

    @property
    def busy(self) -> bool:
        """Whether any zone had something to watch at the last sample (see ``Sampler.follow``)."""
        return any(rule.busy or rule.spots for rule in self.rules or [])

    def shapes(self) -> list[ZoneShape]:
        return [rule.shape for rule in self.rules or []]

    def update(self, t: float, detections: Detections, frame_wh: tuple[int, int]) -> list[Decision]:
        """The decisions of the sample at media time ``t`` from its detections alone (a replay of
        recorded detections; no background model)."""
        rules = self._rules_for(frame_wh)  # first: it places the ground plane the tracker judges on
        keep = self.tracked.mask(detections.class_id)
        objects = self.tracker.update(t, detections[keep])
        decisions: list[Decision] = []
        riders = self._riders(detections)
        local = self.clock(t).astimezone(self.timezone)
        for rule in rules:
            windows = rule.zone.active
            active = windows is None or any(w.covers(local) for w in windows)
            decisions.extend(rule.update(t, objects, active, riders))
        return decisions

    def decide(self, t: float, image: np.ndarray, detections: Detections) -> list[Decision]:
        """The decisions of the frame ``image`` at media time ``t``: the model's ``detections``
        and, where zones ask for them, the background model's stationary blobs."""
        height, width = image.shape[:2]
        found = self._with_foreground(t, image, detections)
        if self.recent is not None:  # kept for trying zones (edge/zonetest.py)
            self.recent.add(self.clock(t), found, image)
        return self.update(t, found, (width, height))


__all__ = ["CameraAnalyzer", "Clock", "class_ids", "media_clock"]
