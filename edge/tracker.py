"""Frame-to-frame tracking and stillness.

:class:`Tracker` gives each detection a track id by greedy IoU association with the tracks
of the previous samples (only between classes that some zone treats alike, so a passer-by
never takes over a parked bike's track), and tells for each track since when it has been
standing still: its box centre has stayed within a tolerance of where the still run began,
and its recent boxes show no steady drift (a far vehicle creeping toward the camera moves a
pixel a second, within the tolerance, but always the same way).

Where a zone gives the camera's ground plane (:mod:`edge.ground`), an object standing in it is
judged on the ground instead: its ground point stays within the zone's ``still_m`` of where it
came to rest and its steady drift is slower than ``max_speed_kmh``.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from contract.geometry import box_iou
from edge.config import TrackingConfig
from edge.detections import OBSERVATIONS, STILL_SINCE, Detections, greedy_match
from edge.ground import GroundMap, GroundPoints


@dataclass
class Track:
    track_id: int
    box: np.ndarray
    class_votes: Counter[int]
    confidence: float
    first_t: float
    last_t: float
    observations: int = 1
    rest_box: np.ndarray = field(default_factory=lambda: np.zeros(4, np.float32))
    rest_since: float = 0.0
    rest_count: int = 1
    rest_sample: int = 0  # the tracker's sample count when the rest began
    settled: bool = False  # the rest has been confirmed; later gaps (occlusion) do not undo it
    # (t, centre x, centre y, size) of the recent boxes while the rest is unconfirmed; on a
    # calibrated ground (t, ground x, ground y, 0) in metres
    recent: deque[tuple[float, float, float, float]] = field(default_factory=deque)
    rest_ground: np.ndarray | None = None  # the ground point (metres) where the rest began, if calibrated
    max_speed_m_s: float = 0.0  # the calibrated zone's drift limit
    class_id: int = -1  # the class by vote, ``class_votes.most_common``'s (kept as votes come)

    def __post_init__(self) -> None:
        self.class_id = self.class_votes.most_common(1)[0][0]

    def vote(self, class_id: int) -> None:
        """One more sighting as ``class_id``. Only a vote for another class than the leading
        one can change the lead (a tie goes to the class voted for first, as ``most_common``
        has it), so only then is it counted again: the tracker asks every track's class
        twice a sample."""
        self.class_votes[class_id] += 1
        if class_id != self.class_id:
            self.class_id = self.class_votes.most_common(1)[0][0]


def _tolerance(size: float, cfg: TrackingConfig) -> float:
    return max(cfg.still_tolerance * size, cfg.still_min_px)


def _still(a: np.ndarray, b: np.ndarray, cfg: TrackingConfig) -> bool:
    size = max(float(a[2] - a[0]), float(a[3] - a[1]), float(b[2] - b[0]), float(b[3] - b[1]))
    tolerance = _tolerance(size, cfg)
    centre_shift = np.hypot((a[0] + a[2] - b[0] - b[2]) / 2, (a[1] + a[3] - b[1] - b[3]) / 2)
    size_shift = max(abs(float(a[2] - a[0] - (b[2] - b[0]))), abs(float(a[3] - a[1] - (b[3] - b[1]))))
    return bool(centre_shift <= tolerance and size_shift <= 2 * tolerance)


def _still_on_ground(track: Track, ground: GroundPoints, d: int) -> bool:
    assert track.rest_ground is not None
    return bool(np.hypot(*(ground.xy[d] - track.rest_ground)) <= ground.still_m[d])


def _drifts(track: Track, cfg: TrackingConfig) -> bool:
    """Whether the recent boxes move steadily one way: a least-squares line through their centres
    and sizes, over the time they span, moves more than ``still_max_drift`` of the tolerance (on
    a calibrated ground: faster than the zone's ``max_speed_kmh``). Detector jitter about a
    fixed place fits a flat line."""
    recent = track.recent
    if len(recent) < 3:
        return False
    path = np.array(recent, np.float64)
    times = path[:, 0] - path[0, 0]
    if times[-1] <= 0:
        return False
    slope = np.polyfit(times, path[:, 1:], 1)[0]  # px/s of centre x, centre y, size (m/s on the ground)
    if track.rest_ground is not None:
        return bool(np.hypot(slope[0], slope[1]) > track.max_speed_m_s)
    limit = cfg.still_max_drift * _tolerance(float(path[:, 3].max()), cfg)
    return bool(np.hypot(slope[0], slope[1]) * times[-1] > limit or abs(slope[2]) * times[-1] > limit)


class Tracker:
    def __init__(self, cfg: TrackingConfig, class_groups: Iterable[Iterable[int]], num_classes: int) -> None:
        self.cfg = cfg
        self.compatible = np.eye(num_classes, dtype=bool)
        for group in class_groups:
            ids = list(group)
            for a in ids:
                for b in ids:
                    self.compatible[a, b] = True
        self.tracks: list[Track] = []
        self._next_id = 1
        self._samples = 0
        self.ground: GroundMap | None = None  # set by the analyzer where zones give a ground plane

    def _settled(self, track: Track, t: float) -> bool:
        """Still long enough, often enough: seen in place in ``still_min_presence`` of the samples
        since it came to rest. Without that share, a moving car's last box, taken up seconds
        later by the next car passing the same place, would look like an object at rest."""
        if not track.settled:
            samples = self._samples - track.rest_sample + 1
            track.settled = (
                track.rest_count >= self.cfg.still_min_observations
                and t - track.rest_since >= self.cfg.still_min_s
                and track.rest_count >= self.cfg.still_min_presence * samples
                and not _drifts(track, self.cfg)
            )
            if track.settled:
                track.recent.clear()  # kept only until the rest is confirmed
        return track.settled

    def _remember(self, track: Track, t: float, box: np.ndarray, ground: GroundPoints | None, d: int) -> None:
        """Keeps the boxes of the last ``still_min_s`` (at least three) for the drift test."""
        if track.rest_ground is not None and ground is not None:
            track.recent.append((t, float(ground.xy[d, 0]), float(ground.xy[d, 1]), 0.0))
        else:
            size = max(float(box[2] - box[0]), float(box[3] - box[1]))
            track.recent.append((t, float(box[0] + box[2]) / 2, float(box[1] + box[3]) / 2, size))
        while len(track.recent) > 3 and track.recent[0][0] < t - self.cfg.still_min_s:
            track.recent.popleft()

    @staticmethod
    def _rest_on_ground(track: Track, ground: GroundPoints | None, d: int) -> None:
        """The rest begins: on the ground where detection ``d`` stands in a calibrated zone."""
        if ground is not None and ground.known(d):
            track.rest_ground, track.max_speed_m_s = ground.xy[d].copy(), float(ground.max_speed_m_s[d])
        else:
            track.rest_ground = None

    def update(self, t: float, detections: Detections) -> Detections:
        """``detections`` of the sample at media time ``t`` with their track ids, each track's
        class by vote, and their stillness (``still_since``, ``observations``)."""
        self._samples += 1
        self.tracks = [tr for tr in self.tracks if t - tr.last_t <= self.cfg.track_max_gap_s]
        matched_track_for_det: dict[int, Track] = {}
        if self.tracks and len(detections):
            boxes = np.stack([tr.box for tr in self.tracks])
            iou = box_iou(detections.xyxy, boxes)
            track_classes = np.array([tr.class_id for tr in self.tracks])
            iou[~self.compatible[detections.class_id][:, track_classes]] = 0.0
            for d, k in greedy_match(iou, self.cfg.match_iou):
                matched_track_for_det[d] = self.tracks[k]
        tracks: list[Track] = []
        still_since = np.full(len(detections), np.nan)
        ground = self.ground.project(detections.xyxy) if self.ground else None
        for d in range(len(detections)):
            box = detections.xyxy[d].astype(np.float32)
            cls = int(detections.class_id[d])
            conf = float(detections.confidence[d])
            track = matched_track_for_det.get(d)
            calibrated = ground is not None and ground.known(d)
            if track is None:
                track = Track(self._next_id, box, Counter({cls: 1}), conf, t, t, rest_box=box, rest_since=t,
                              rest_sample=self._samples)
                self._next_id += 1
                self.tracks.append(track)
                self._rest_on_ground(track, ground, d)
            else:
                track.box, track.confidence, track.last_t = box, conf, t
                track.observations += 1
                track.vote(cls)
                if track.rest_ground is not None and calibrated:
                    still = _still_on_ground(track, ground, d)
                else:  # in image terms; an object that stepped onto or off a calibrated ground rests afresh
                    still = track.rest_ground is None and not calibrated and _still(track.rest_box, box, self.cfg)
                if still:
                    track.rest_count += 1
                else:
                    track.rest_box, track.rest_since, track.rest_count = box, t, 1
                    track.rest_sample, track.settled = self._samples, False
                    if (track.rest_ground is not None) != calibrated:
                        track.recent.clear()
                    self._rest_on_ground(track, ground, d)
            if not track.settled:
                self._remember(track, t, box, ground, d)
            if self._settled(track, t):
                still_since[d] = track.rest_since
            tracks.append(track)
        return Detections(
            detections.xyxy.astype(np.float32),
            detections.confidence,
            np.array([tr.class_id for tr in tracks], np.int32),  # the track's class by vote
            np.array([tr.track_id for tr in tracks], np.int64),
            {STILL_SINCE: still_since, OBSERVATIONS: np.array([tr.observations for tr in tracks], np.int32)},
        )
