"""Skipping inference where nothing changed: the model's eyes go where something happens.

Most of a town's cameras, most of the time, watch a street where nothing in their zones moves.
A sampled frame is compared with the last frame the model saw, on a small blurred grey copy
(320 px wide, about 1 ms for a 1080p frame): where no zone has more than ``share`` of its
pixels changed by more than ``level`` grey levels, the model's last detections stand for this
frame too. The tracker and rules still see every sample, so dwell clocks run as before; the
model still sees the camera at least every ``max_reuse_s``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np

from edge.config import UnchangedConfig, ZoneConfig
from edge.detections import Detections
from edge.images import shrink
from edge.zones import zone_mask

THUMB_WIDTH = 320


class UnchangedGate:
    def __init__(self, config: UnchangedConfig, zones: Sequence[ZoneConfig]) -> None:
        self.config = config
        self.zones = list(zones)
        self._masks: list[np.ndarray] = []  # per zone, on the thumbnail
        self._last: np.ndarray | None = None  # the thumbnail of the frame the model last saw
        self._last_at = 0.0
        self._detections = Detections.empty()
        self.inferred = 0
        self.reused = 0

    def use_zones(self, zones: Sequence[ZoneConfig]) -> None:
        self.zones, self._masks, self._last = list(zones), [], None  # the next frame goes to the model

    def _thumbnail(self, image: np.ndarray) -> np.ndarray:
        height, width = image.shape[:2]
        size = (min(width, THUMB_WIDTH), max(1, round(height * min(width, THUMB_WIDTH) / width)))
        grey = cv2.cvtColor(shrink(image, size), cv2.COLOR_BGR2GRAY)
        return cv2.GaussianBlur(grey, (3, 3), 0)

    def _zone_masks(self, shape: tuple[int, int]) -> list[np.ndarray]:
        if not self._masks or self._masks[0].shape != shape:
            height, width = shape
            self._masks = [zone_mask([zone], (width, height)) > 0 for zone in self.zones]
        return self._masks

    def changed(self, thumb: np.ndarray) -> bool:
        """Whether a zone of ``thumb`` differs from the last frame the model saw."""
        if self._last is None or self._last.shape != thumb.shape:
            return True
        moved = cv2.absdiff(thumb, self._last) > self.config.level
        for mask in self._zone_masks(thumb.shape):
            area = int(mask.sum())
            if area and int(moved[mask].sum()) > self.config.share * area:
                return True
        return False

    def detect(self, t: float, image: np.ndarray, model: Callable[[np.ndarray], Detections]) -> Detections:
        """The detections of the frame at media time ``t``: the model's, or its last ones where
        the zones did not change since (and the model saw the camera less than ``max_reuse_s`` ago)."""
        if not self.config.enabled:
            return model(image)
        thumb = self._thumbnail(image)
        if t - self._last_at < self.config.max_reuse_s and not self.changed(thumb):
            self.reused += 1
            return self._detections
        self._detections = model(image)
        self._last, self._last_at = thumb, t
        self.inferred += 1
        return self._detections


__all__ = ["UnchangedGate"]
