"""Violation rules: which still objects in a zone become violations, and when they clear.

Occupancy is kept per *spot*, the place where an object stands, not per track: a parked bike
keeps its spot, and its dwell clock, while passers-by hide it, while the detector misses it
for a few samples, and when it comes back under a new track id. A violation opens when a
spot of the zone's classes has been occupied for ``dwell_s``, and clears once the spot has
been seen empty for ``clear_s``.

A stop is one violation. A still object about to open a violation over an open one whose
object is seen now is a second box on that object, and opens nothing; one about to open
where a violation cleared less than ``rejoin_s`` ago (the detector missed the object for
longer than ``clear_s``, or it edged forward meanwhile) continues that violation: the same
spot, dwell clock and violation id, an ``updated`` event, rather than a second ``opened``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from contract import EventState
from contract.geometry import box_iou
from edge.config import TrackingConfig, ZoneConfig
from edge.detections import ClassSet, Detections, greedy_match
from edge.riders import ridden
from edge.zones import ZoneShape

RIDDEN_MEMORY_S = 600.0  # how long a track's last ride is remembered (its parked clock starts then)
MAX_CLEARED = 256  # cleared violations remembered per zone for rejoining, the latest kept


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
    clears: int = 0  # cleared events so far (a violation that goes on after a clear clears again)

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
    sequence: int = 0  # of the violation's updated events, or of its cleared ones (event ids)

    @property
    def dwell_s(self) -> float:
        end = self.spot.last_seen if self.state is EventState.cleared else self.time_s
        return max(0.0, end - self.spot.since)


def _tracker_ids(objects: Detections) -> np.ndarray:
    if objects.tracker_id is None:
        raise ValueError("zone rules take tracked detections (Tracker.update sets tracker_id)")
    return objects.tracker_id


def same_place(a: np.ndarray, b: np.ndarray, min_iou: float, max_distance: float) -> bool:
    """Whether boxes ``a`` and ``b`` (xyxy) mark one place: they overlap by ``min_iou``, or their
    centres lie within ``max_distance`` of the larger box's longer side."""
    if box_iou(a[None], b[None])[0, 0] >= min_iou:
        return True
    size = max(float(a[2] - a[0]), float(a[3] - a[1]), float(b[2] - b[0]), float(b[3] - b[1]))
    shift = np.hypot((a[0] + a[2] - b[0] - b[2]) / 2, (a[1] + a[3] - b[1] - b[3]) / 2)
    return bool(shift <= max_distance * size)


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
        self.class_ids = ClassSet(class_ids)
        self.ridable_ids = ClassSet(set(ridable_ids) & set(class_ids))  # these count only while nobody rides them
        self._ridden_at: dict[int, float] = {}  # track id -> media time it was last seen ridden
        self.tracking = tracking
        self.spots: list[Spot] = []
        self._cleared: list[tuple[float, Spot]] = []  # (media time cleared, spot), for rejoining
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
        on_it = ridden(boxes, riders) if self.ridable_ids.ids else np.zeros(len(objects), bool)
        rode = on_it & self.ridable_ids.mask(objects.class_id)
        for track_id in _tracker_ids(objects)[rode]:
            self._ridden_at[int(track_id)] = t
        sure = objects.confidence.astype(np.float64) >= self.zone.min_confidence
        return objects[inside & big & self.class_ids.mask(objects.class_id) & sure & ~rode]

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

        for spot in self.spots:
            spot.samples += 1
            if spot.last_seen == t:
                spot.sightings += 1
        decisions = self._rejoin(t, seen_now)
        kept: list[Spot] = []
        for spot in self.spots:
            if t - spot.last_seen >= self.zone.clear_s:
                if spot.opened:
                    decisions.append(Decision(EventState.cleared, self.zone, spot, t, spot.clears))
                    spot.clears += 1
                    self._cleared.append((t, spot))
                continue
            kept.append(spot)
            if not spot.opened and self._due(spot, t, seen_now):
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
                decisions.append(Decision(EventState.updated, self.zone, spot, t, spot.updates))
        self.spots = kept
        self._cleared = [(at, s) for at, s in self._cleared[-MAX_CLEARED:] if t - at < self.tracking.rejoin_s]
        return decisions

    def _due(self, spot: Spot, t: float, seen_now: set[int]) -> bool:
        """Whether a candidate spot has been occupied long enough, and often enough, to open."""
        return (
            spot.spot_id in seen_now
            and t - spot.since >= self.zone.dwell_s
            and spot.sightings >= self.tracking.min_presence * spot.samples
        )

    def _rejoin(self, t: float, seen_now: set[int]) -> list[Decision]:
        """Candidates due to open at the place of a violation the zone follows: one seen now
        (a second box on the same object) absorbs the candidate; one cleared less than
        ``rejoin_s`` ago continues with it (module docstring)."""
        decisions: list[Decision] = []
        joined: set[int] = set()
        for spot in self.spots:
            if spot.opened or not self._due(spot, t, seen_now):
                continue
            if any(s.opened and s.spot_id in seen_now and box_iou(spot.box[None], s.box[None])[0, 0]
                   >= self.tracking.spot_iou for s in self.spots):
                joined.add(spot.spot_id)
                continue
            earlier = self._cleared_at(spot, t)
            if earlier is None:
                continue
            joined.add(spot.spot_id)
            earlier.anchor, earlier.box, earlier.last_seen = spot.anchor, spot.box, t
            earlier.track_id, earlier.confidence = spot.track_id, spot.confidence
            earlier.class_votes.update(spot.class_votes)
            earlier.updates += 1
            earlier.alerted_at = t
            seen_now.add(earlier.spot_id)
            self._cleared = [(at, s) for at, s in self._cleared if s is not earlier]
            self.spots.append(earlier)
            decisions.append(Decision(EventState.updated, self.zone, earlier, t, earlier.updates))
        self.spots = [s for s in self.spots if s.spot_id not in joined]
        return decisions

    def _cleared_at(self, spot: Spot, t: float) -> Spot | None:
        """The latest violation cleared less than ``rejoin_s`` ago at ``spot``'s place."""
        for at, other in reversed(self._cleared):
            if t - at < self.tracking.rejoin_s and same_place(
                    spot.box, other.box, self.tracking.spot_iou, self.tracking.rejoin_distance):
                return other
        return None
