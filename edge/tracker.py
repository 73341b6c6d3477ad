"""Frame-to-frame tracking and stillness.

:class:`Tracker` gives each detection a track id by greedy IoU association with the tracks
of the previous samples (only between classes that some zone treats alike, so a passer-by
never takes over a parked bike's track), and tells for each track since when it has been
standing still: its box centre has stayed within a tolerance of where the still run began,
and its recent boxes show no steady drift (a far vehicle creeping toward the camera moves a
pixel a second, within the tolerance, but always the same way).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from contract.geometry import box_iou
from edge.config import TrackingConfig
from edge.detections import OBSERVATIONS, STILL_SINCE, Detections, greedy_match


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
    # (t, centre x, centre y, size) of the recent boxes while the rest is unconfirmed
    recent: deque[tuple[float, float, float, float]] = field(default_factory=deque)

    @property
    def class_id(self) -> int:
        return self.class_votes.most_common(1)[0][0]


def _tolerance(size: float, cfg: TrackingConfig) -> float:
    return max(cfg.still_tolerance * size, cfg.still_min_px)


def _still(a: np.ndarray, b: np.ndarray, cfg: TrackingConfig) -> bool:
    size = max(float(a[2] - a[0]), float(a[3] - a[1]), float(b[2] - b[0]), float(b[3] - b[1]))
    tolerance = _tolerance(size, cfg)
    centre_shift = np.hypot((a[0] + a[2] - b[0] - b[2]) / 2, (a[1] + a[3] - b[1] - b[3]) / 2)
    size_shift = max(abs(float(a[2] - a[0] - (b[2] - b[0]))), abs(float(a[3] - a[1] - (b[3] - b[1]))))
    return bool(centre_shift <= tolerance and size_shift <= 2 * tolerance)


def _drifts(recent: deque[tuple[float, float, float, float]], cfg: TrackingConfig) -> bool:
    """Whether the recent boxes move steadily one way: a least-squares line through their centres
    and sizes, over the time they span, moves more than ``still_max_drift`` of the tolerance.
    Detector jitter about a fixed place fits a flat line."""
    if len(recent) < 3:
        return False
    path = np.array(recent, np.float64)
    times = path[:, 0] - path[0, 0]
    if times[-1] <= 0:
        return False
    slope = np.polyfit(times, path[:, 1:], 1)[0]  # px/s of centre x, centre y, size
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
                and not _drifts(track.recent, self.cfg)
            )
            if track.settled:
                track.recent.clear()  # kept only until the rest is confirmed
        return track.settled

    def _remember(self, track: Track, t: float, box: np.ndarray) -> None:
        """Keeps the boxes of the last ``still_min_s`` (at least three) for the drift test."""
        size = max(float(box[2] - box[0]), float(box[3] - box[1]))
        track.recent.append((t, float(box[0] + box[2]) / 2, float(box[1] + box[3]) / 2, size))
        while len(track.recent) > 3 and track.recent[0][0] < t - self.cfg.still_min_s:
            track.recent.popleft()

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
        for d in range(len(detections)):
            box = detections.xyxy[d].astype(np.float32)
            cls = int(detections.class_id[d])
            conf = float(detections.confidence[d])
            track = matched_track_for_det.get(d)
            if track is None:
                track = Track(self._next_id, box, Counter({cls: 1}), conf, t, t, rest_box=box, rest_since=t,
                              rest_sample=self._samples)
                self._next_id += 1
                self.tracks.append(track)
            else:
                track.box, track.confidence, track.last_t = box, conf, t
                track.observations += 1
                track.class_votes[cls] += 1
                if _still(track.rest_box, box, self.cfg):
                    track.rest_count += 1
                else:
                    track.rest_box, track.rest_since, track.rest_count = box, t, 1
                    track.rest_sample, track.settled = self._samples, False
            if not track.settled:
                self._remember(track, t, box)
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
