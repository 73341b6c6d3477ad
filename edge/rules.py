"""Violation rules: which still objects in a zone become violations, and when they clear.

Occupancy is kept per *spot*, the place where an object stands, not per track: a parked bike
keeps its spot, and its dwell clock, while passers-by hide it, while the detector misses it
for a few samples, and when it comes back under a new track id. A violation opens when a
spot of the zone's classes has been occupied for ``dwell_s``, and clears once the spot has
been seen empty for ``clear_s``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from contract import EventState
from contract.geometry import box_iou
from edge.config import TrackingConfig, ZoneConfig
from edge.detections import Detections, greedy_match
from edge.riders import ridden
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


def _tracker_ids(objects: Detections) -> np.ndarray:
    if objects.tracker_id is None:
        raise ValueError("zone rules take tracked detections (Tracker.update sets tracker_id)")
    return objects.tracker_id


def _sighted(spot: Spot, objects: Detections, i: int, t: float) -> None:
    """Object ``i`` of ``objects`` seen at ``spot`` at media time ``t``."""
    spot.box, spot.last_seen = objects.xyxy[i], t
    spot.track_id, spot.confidence = int(_tracker_ids(objects)[i]), float(objects.confidence[i])
    spot.class_votes[int(objects.class_id[i])] += 1


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

    def _relevant(self, t: float, objects: Detections, riders: np.ndarray) -> Detections:
        """The objects of the zone's classes inside it, big and sure enough, nobody riding them."""
        if not len(objects):
            return objects
        boxes = objects.xyxy
        inside = self.shape.contains(boxes)
        big = np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) >= self.zone.min_box_px
        on_it = ridden(boxes, riders) if self.ridable_ids else np.zeros(len(objects), bool)
        rode = on_it & np.isin(objects.class_id, list(self.ridable_ids))
        for track_id in _tracker_ids(objects)[rode]:
            self._ridden_at[int(track_id)] = t
        sure = objects.confidence.astype(np.float64) >= self.zone.min_confidence
        return objects[inside & big & np.isin(objects.class_id, self.class_ids) & sure & ~rode]

    @staticmethod
    def _match(objects: Detections, spots: list[Spot], min_iou: float) -> dict[int, Spot]:
        """Greedy one-to-one matching of objects (by index) to spots by IoU."""
        if not len(objects) or not spots:
            return {}
        iou = box_iou(objects.xyxy, np.stack([s.anchor for s in spots]))
        return {i: spots[k] for i, k in greedy_match(iou, min_iou)}

    def _crept(self, still: Detections, matched: dict[int, Spot]) -> dict[int, Spot]:
        """Still objects matching no spot's anchor but an open spot's last sighting."""
        taken = {spot.spot_id for spot in matched.values()}
        left = [i for i in range(len(still)) if i not in matched]
        open_spots = [s for s in self.spots if s.opened and s.spot_id not in taken]
        if not left or not open_spots:
            return {}
        iou = box_iou(still.xyxy[left], np.stack([s.box for s in open_spots]))
        return {left[i]: open_spots[k] for i, k in greedy_match(iou, self.tracking.spot_iou)}

    def update(self, t: float, objects: Detections, active: bool = True,
               riders: np.ndarray | None = None) -> list[Decision]:
        """One sample at media time ``t``. Outside its active hours (``active`` False) the zone
        opens nothing and forgets its candidate spots, so the dwell clock starts when it
        becomes active; violations already open go on and clear as usual. ``riders``: the
        boxes of this frame's rider-class detections (a ridden bike is not parked; it neither
        starts nor keeps a spot)."""
        if not active:
            self.spots = [s for s in self.spots if s.opened]
            self.active_since = None
            objects = objects[np.zeros(len(objects), bool)]
        elif self.active_since is None:
            self.active_since = t
        self._ridden_at = {k: v for k, v in self._ridden_at.items() if t - v < RIDDEN_MEMORY_S}
        relevant = self._relevant(t, objects, np.zeros((0, 4), np.float32) if riders is None else riders)
        self.busy = bool(len(relevant)) or bool(self.spots)
        moving = np.isnan(relevant.still_since)
        still = relevant[~moving]
        # A young track is often the same parked object seen again after a detector gap:
        # it may keep a known spot alive (never start one, never move it).
        young = relevant[moving & (relevant.observations < self.tracking.still_min_observations)]

        seen_now: set[int] = set()
        matches = self._match(still, self.spots, self.tracking.spot_iou)
        for i, spot in matches.items():
            # The spot stays where the object came to rest (``anchor``): a candidate that
            # creeps leaves its spot instead of dragging it along. ``box`` is the latest sighting.
            _sighted(spot, still, i, t)
            seen_now.add(spot.spot_id)
        # An object under an open violation that crept off its spot (a car edging along the
        # shoulder, a bike nudged by a passer-by) is the same violation: its spot moves to
        # where it now rests instead of a second violation opening beside the first.
        crept = self._crept(still, matches)
        for i, spot in crept.items():
            spot.anchor = still.xyxy[i]
            _sighted(spot, still, i, t)
            seen_now.add(spot.spot_id)
        matches.update(crept)
        for i in range(len(still)):
            if i in matches:
                continue
            track_id = int(_tracker_ids(still)[i])
            since = float(still.still_since[i])
            since = max(since, self._ridden_at.get(track_id, since))  # parked from when its rider left
            if self.active_since is not None:
                since = max(since, self.active_since)  # dwell counts only while the zone is enforced
            box = still.xyxy[i]
            spot = Spot(self._next_spot, box, box, since, t, track_id, float(still.confidence[i]),
                        Counter({int(still.class_id[i]): 1}))
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
