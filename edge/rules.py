"""Violation rules: which still objects in a zone become violations, and when they clear.

Occupancy is kept per *spot*, the place where an object stands, not per track: a parked bike
keeps its spot, and its dwell clock, while passers-by hide it, while the detector misses it
for a few samples, and when it comes back under a new track id. A violation opens when a
spot of the zone's classes has been occupied for ``dwell_s``, and clears once the spot has
been seen empty for ``clear_s``.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from contract import EventState
from contract.geometry import box_iou
from edge.config import TrackingConfig, ZoneConfig
from edge.detections import greedy_match
from edge.riders import ridden
from edge.tracker import TrackedObject
from edge.zones import ZoneShape

RIDDEN_MEMORY_S = 600.0  # how long a track's last ride is remembered (its parked clock starts then)


@dataclass
class Spot:
    spot_id: int
    anchor: np.ndarray
    box: np.ndarray
    since: float  # media time the object came to rest
    last_seen: float
    track_id: int
    confidence: float
    class_votes: Counter[int] = field(default_factory=Counter)
    samples: int = 0  # samples analysed since the spot was found
    sightings: int = 0  # of which the object was seen
    opened: bool = False
    violation_id: uuid.UUID | None = None
    alerted_at: float = 0.0  # media time of the last opened or updated event
    updates: int = 0  # updated events so far (their sequence numbers)

    @property
    def class_id(self) -> int:
        return self.class_votes.most_common(1)[0][0]


@dataclass(frozen=True)
class Decision:
    """A violation changed state at media time ``time_s``."""

    state: EventState
    zone: ZoneConfig
    spot: Spot
    time_s: float

    @property
    def dwell_s(self) -> float:
        end = self.spot.last_seen if self.state is EventState.cleared else self.time_s
        return max(0.0, end - self.spot.since)


def _sighted(spot: Spot, obj: TrackedObject, t: float) -> None:
    """``obj`` seen at ``spot`` at media time ``t``."""
    spot.box, spot.last_seen, spot.track_id, spot.confidence = obj.xyxy, t, obj.track_id, obj.confidence
    spot.class_votes[obj.class_id] += 1


class ZoneRule:
    """Tracks the occupied spots of one zone and decides its violations."""

    def __init__(self, zone: ZoneConfig, shape: ZoneShape, class_ids: Sequence[int], tracking: TrackingConfig,
                 ridable_ids: Sequence[int] = ()) -> None:
        self.zone = zone
        self.shape = shape
        self.class_ids = np.asarray(sorted(set(class_ids)), np.int32)
        self.ridable_ids = set(ridable_ids) & set(class_ids)  # these count only while nobody rides them
        self._ridden_at: dict[int, float] = {}  # track id -> media time it was last seen ridden
        self.tracking = tracking
        self.spots: list[Spot] = []
        self._next_spot = 1
        self.active_since: float | None = None  # media time the zone last became active
        self.busy = False  # the last sample held an object of the zone's classes, a candidate or a violation

    def _relevant(self, t: float, objects: Sequence[TrackedObject], riders: np.ndarray) -> list[TrackedObject]:
        if not objects:
            return []
        boxes = np.stack([o.xyxy for o in objects])
        inside = self.shape.contains(boxes)
        big = np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) >= self.zone.min_box_px
        on_it = ridden(boxes, riders) if self.ridable_ids else np.zeros(len(objects), bool)
        for obj, rode in zip(objects, on_it, strict=True):
            if rode and obj.class_id in self.ridable_ids:
                self._ridden_at[obj.track_id] = t
        return [
            o for o, ok, size_ok, rode in zip(objects, inside, big, on_it, strict=True)
            if ok and size_ok and o.class_id in self.class_ids and o.confidence >= self.zone.min_confidence
            and not (rode and o.class_id in self.ridable_ids)
        ]

    @staticmethod
    def _match(objects: Sequence[TrackedObject], spots: list[Spot], min_iou: float) -> dict[int, Spot]:
        """Greedy one-to-one matching of objects (by index) to spots by IoU."""
        if not objects or not spots:
            return {}
        iou = box_iou(np.stack([o.xyxy for o in objects]), np.stack([s.anchor for s in spots]))
        return {i: spots[k] for i, k in greedy_match(iou, min_iou)}

    def _crept(self, still: Sequence[TrackedObject], matched: dict[int, Spot]) -> dict[int, Spot]:
        """Still objects matching no spot's anchor but an open spot's last sighting."""
        taken = {spot.spot_id for spot in matched.values()}
        left = [i for i in range(len(still)) if i not in matched]
        open_spots = [s for s in self.spots if s.opened and s.spot_id not in taken]
        if not left or not open_spots:
            return {}
        iou = box_iou(np.stack([still[i].xyxy for i in left]), np.stack([s.box for s in open_spots]))
        return {left[i]: open_spots[k] for i, k in greedy_match(iou, self.tracking.spot_iou)}

    def update(self, t: float, objects: Sequence[TrackedObject], active: bool = True,
               riders: np.ndarray | None = None) -> list[Decision]:
        """One sample at media time ``t``. Outside its active hours (``active`` False) the zone
        opens nothing and forgets its candidate spots, so the dwell clock starts when it
        becomes active; violations already open go on and clear as usual. ``riders``: the
        boxes of this frame's rider-class detections (a ridden bike is not parked; it neither
        starts nor keeps a spot)."""
        if not active:
            self.spots = [s for s in self.spots if s.opened]
            self.active_since = None
            objects = ()
        elif self.active_since is None:
            self.active_since = t
        self._ridden_at = {k: v for k, v in self._ridden_at.items() if t - v < RIDDEN_MEMORY_S}
        relevant = self._relevant(t, objects, np.zeros((0, 4), np.float32) if riders is None else riders)
        self.busy = bool(relevant) or bool(self.spots)
        still = [o for o in relevant if o.still_since is not None]
        # A young track is often the same parked object seen again after a detector gap:
        # it may keep a known spot alive (never start one, never move it).
        young = [o for o in relevant if o.still_since is None and o.observations < self.tracking.still_min_observations]

        seen_now: set[int] = set()
        matches = self._match(still, self.spots, self.tracking.spot_iou)
        for i, spot in matches.items():
            # The spot stays where the object came to rest (``anchor``): a candidate that
            # creeps leaves its spot instead of dragging it along. ``box`` is the latest sighting.
            _sighted(spot, still[i], t)
            seen_now.add(spot.spot_id)
        # An object under an open violation that crept off its spot (a car edging along the
        # shoulder, a bike nudged by a passer-by) is the same violation: its spot moves to
        # where it now rests instead of a second violation opening beside the first.
        crept = self._crept(still, matches)
        for i, spot in crept.items():
            spot.anchor = still[i].xyxy
            _sighted(spot, still[i], t)
            seen_now.add(spot.spot_id)
        matches.update(crept)
        for i, obj in enumerate(still):
            if i in matches:
                continue
            since = obj.still_since if obj.still_since is not None else t
            since = max(since, self._ridden_at.get(obj.track_id, since))  # parked from when its rider left
            if self.active_since is not None:
                since = max(since, self.active_since)  # dwell counts only while the zone is enforced
            spot = Spot(self._next_spot, obj.xyxy, obj.xyxy, since, t, obj.track_id, obj.confidence,
                        Counter({obj.class_id: 1}))
            self._next_spot += 1
            self.spots.append(spot)
            seen_now.add(spot.spot_id)
        unseen_spots = [s for s in self.spots if s.spot_id not in seen_now]
        for spot in self._match(young, unseen_spots, max(self.tracking.spot_iou, 0.5)).values():
            spot.last_seen = t

        decisions: list[Decision] = []
        kept: list[Spot] = []
        for spot in self.spots:
            spot.samples += 1
            if spot.last_seen == t:
                spot.sightings += 1
            if t - spot.last_seen >= self.zone.clear_s:
                if spot.opened:
                    decisions.append(Decision(EventState.cleared, self.zone, spot, t))
                continue
            kept.append(spot)
            if (
                not spot.opened
                and spot.spot_id in seen_now
                and t - spot.since >= self.zone.dwell_s
                and spot.sightings >= self.tracking.min_presence * spot.samples
            ):
                spot.opened, spot.alerted_at = True, t
                decisions.append(Decision(EventState.opened, self.zone, spot, t))
            elif (
                spot.opened
                and self.zone.realert_s is not None
                and spot.spot_id in seen_now
                and t - spot.alerted_at >= self.zone.realert_s
            ):
                # Still standing there: remind, with the dwell so far and the current picture.
                spot.updates += 1
                spot.alerted_at = t
                decisions.append(Decision(EventState.updated, self.zone, spot, t))
        self.spots = kept
        return decisions
