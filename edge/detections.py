"""Detections of one frame as NumPy arrays, in the style of Roboflow supervision: one type
that the detector returns, the tracker fills in and the zone rules take.

The detector's output has boxes, confidences and class ids. The tracker returns the same type
with ``tracker_id`` set and per-object ``data`` (``still_since``: media time the object came to
rest, NaN while it moves; ``observations``: samples its track has been seen in). The background
model's stationary blobs join a frame's detections with :meth:`Detections.merge`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

STILL_SINCE = "still_since"  # float64, media time the object came to rest; NaN while it moves
OBSERVATIONS = "observations"  # int32, samples the object's track has been seen in


class ClassSet:
    """A set of class ids to pick a frame's detections by (``mask``): a table lookup, where
    ``np.isin`` sorts both arrays for a frame of a handful of objects (a quarter of a
    RoadTrack replay's time went there)."""

    def __init__(self, ids: Iterable[int]) -> None:
        self.ids = sorted({int(i) for i in ids})
        self.table = np.zeros(self.ids[-1] + 1 if self.ids else 0, bool)
        self.table[self.ids] = True

    def mask(self, class_id: np.ndarray) -> np.ndarray:
        """Which of ``class_id`` are in the set."""
        out = np.zeros(len(class_id), bool)
        known = (class_id >= 0) & (class_id < len(self.table))
        out[known] = self.table[class_id[known]]
        return out


@dataclass(frozen=True)
class Detections:
    xyxy: np.ndarray  # (N, 4) float32, pixels
    confidence: np.ndarray  # (N,) float32
    class_id: np.ndarray  # (N,) int32
    tracker_id: np.ndarray | None = None  # (N,) int64 once tracked
    data: Mapping[str, np.ndarray] = field(default_factory=dict)  # per-object arrays of length N

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int32))

    @classmethod
    def merge(cls, parts: Sequence[Detections]) -> Detections:
        """One frame's detections from several finders (the model, the background model), in
        order. Tracker ids and data are kept only where every part has them."""
        parts = [p for p in parts if len(p)] or list(parts[:1]) or [cls.empty()]
        if len(parts) == 1:
            return parts[0]
        tracked = all(p.tracker_id is not None for p in parts)
        keys = set.intersection(*(set(p.data) for p in parts))
        return cls(
            np.concatenate([p.xyxy for p in parts]),
            np.concatenate([p.confidence for p in parts]),
            np.concatenate([p.class_id for p in parts]),
            np.concatenate([p.tracker_id for p in parts]) if tracked else None,  # type: ignore[misc]
            {k: np.concatenate([p.data[k] for p in parts]) for k in sorted(keys)},
        )

    def __len__(self) -> int:
        return int(self.xyxy.shape[0])

    def __getitem__(self, index: np.ndarray | slice | list[int]) -> Detections:
        return Detections(
            self.xyxy[index], self.confidence[index], self.class_id[index],
            None if self.tracker_id is None else self.tracker_id[index],
            {k: v[index] for k, v in self.data.items()},
        )

    def scaled(self, sx: float, sy: float) -> Detections:
        """The same detections on a frame ``sx`` times as wide and ``sy`` times as high."""
        if (sx, sy) == (1.0, 1.0):
            return self
        factor = np.array([sx, sy, sx, sy], np.float32)
        return Detections(self.xyxy * factor, self.confidence, self.class_id, self.tracker_id, self.data)

    @property
    def still_since(self) -> np.ndarray:
        """Media time each object came to rest, NaN while it moves (all NaN before tracking)."""
        return self.data.get(STILL_SINCE, np.full(len(self), np.nan))

    @property
    def observations(self) -> np.ndarray:
        """Samples each object's track has been seen in (all 1 before tracking)."""
        return self.data.get(OBSERVATIONS, np.ones(len(self), np.int32))


# COCO-80 in the order Ultralytics and YOLOX models use; MOT detection files carry these ids.
COCO_NAMES: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
    "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
)


def greedy_match(score: np.ndarray, min_score: float) -> list[tuple[int, int]]:
    """One-to-one pairs (row, column) of a score matrix, best first, each at least ``min_score``
    and above 0: the best pair left, again and again, ties to the first in row-major order.
    Done as one stable sort of the qualifying entries, each taken unless its row or column
    already is (the tracker and every zone match this way each sample)."""
    if not score.size:
        return []
    flat = score.ravel()
    qualifying = np.flatnonzero((flat >= min_score) & (flat > 0.0))
    if not len(qualifying):
        return []
    order = qualifying[np.argsort(-flat[qualifying], kind="stable")]
    columns = score.shape[1]
    rows_taken: set[int] = set()
    columns_taken: set[int] = set()
    pairs: list[tuple[int, int]] = []
    for index in order.tolist():
        i, k = divmod(index, columns)
        if i not in rows_taken and k not in columns_taken:
            pairs.append((i, k))
            rows_taken.add(i)
            columns_taken.add(k)
    return pairs
