"""A camera's recent past, kept for trying zones: every sample's detections (the model's and
the background model's) for the last minutes, and a small picture every few seconds.

The camera's thread adds; the zone test (edge/zonetest.py) reads from another thread. Both
rings are bounded: by age, and by count (a camera sampled fast cannot grow them past
``max_samples``).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import cv2
import numpy as np

from edge.detections import Detections
from edge.images import shrink


@dataclass(frozen=True)
class Sample:
    at: datetime
    detections: Detections
    frame_wh: tuple[int, int]


class RecentSamples:
    def __init__(self, keep_s: float, thumbnail_every_s: float = 5.0, thumbnail_width: int = 240,
                 max_samples: int = 36_000,
                 protect: Callable[[np.ndarray, Detections], np.ndarray] | None = None) -> None:
        self.protect = protect  # people and plates pixelated before a picture is kept (edge/recorder.py)
        self.keep = timedelta(seconds=keep_s)
        self.thumbnail_every = timedelta(seconds=thumbnail_every_s)
        self.thumbnail_width = thumbnail_width
        self._samples: deque[Sample] = deque(maxlen=max_samples)
        self._thumbnails: deque[tuple[datetime, bytes]] = deque(
            maxlen=max(1, int(keep_s / thumbnail_every_s) + 1))
        self._lock = threading.Lock()

    def add(self, at: datetime, detections: Detections, frame_bgr: np.ndarray) -> None:
        height, width = frame_bgr.shape[:2]
        thumbnail = None
        if not self._thumbnails or at - self._thumbnails[-1][0] >= self.thumbnail_every:
            size = (self.thumbnail_width, max(1, round(height * self.thumbnail_width / width)))
            small = shrink(frame_bgr, size)
            if self.protect is not None:  # on the thumbnail: its people and plates in as many blocks
                small = self.protect(small, detections.scaled(size[0] / width, size[1] / height))
            ok, jpeg = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 75])
            thumbnail = jpeg.tobytes() if ok else None
        keep = Detections(detections.xyxy.copy(), detections.confidence.copy(), detections.class_id.copy())
        with self._lock:
            self._samples.append(Sample(at, keep, (width, height)))
            if thumbnail is not None:
                self._thumbnails.append((at, thumbnail))
            oldest = at - self.keep
            while self._samples and self._samples[0].at < oldest:
                self._samples.popleft()
            while self._thumbnails and self._thumbnails[0][0] < oldest:
                self._thumbnails.popleft()

    def samples(self, since: datetime) -> list[Sample]:
        with self._lock:
            return [s for s in self._samples if s.at >= since]

    def thumbnail(self, at: datetime, box: tuple[float, float, float, float] | None = None,
                  frame_wh: tuple[int, int] | None = None) -> bytes | None:
        """The small picture nearest ``at`` (JPEG), ``box`` (frame pixels) drawn on it."""
        with self._lock:
            if not self._thumbnails:
                return None
            _, jpeg = min(self._thumbnails, key=lambda item: abs((item[0] - at).total_seconds()))
        if box is None or frame_wh is None:
            return jpeg
        image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        scale = image.shape[1] / frame_wh[0]
        x0, y0, x1, y1 = (round(v * scale) for v in box)
        cv2.rectangle(image, (x0, y0), (x1, y1), (0, 0, 255), 2)
        ok, drawn = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 75])
        return drawn.tobytes() if ok else jpeg


__all__ = ["RecentSamples", "Sample"]
