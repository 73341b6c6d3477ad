"""Zone geometry: a zone's normalized polygon placed on a frame, tested with Shapely."""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import Polygon

from edge.config import ZoneConfig


class ZoneShape:
    def __init__(self, zone: ZoneConfig, frame_wh: tuple[int, int]) -> None:
        width, height = frame_wh
        self.zone = zone
        self.points_px = np.array([(x * width, y * height) for x, y in zone.polygon], np.float32)
        self.polygon = Polygon(self.points_px)
        shapely.prepare(self.polygon)

    def anchor_points(self, xyxy: np.ndarray) -> np.ndarray:
        """The point of each box that must lie in the zone (ground point or centre)."""
        cx = (xyxy[:, 0] + xyxy[:, 2]) / 2
        y = xyxy[:, 3] if self.zone.anchor == "bottom_center" else (xyxy[:, 1] + xyxy[:, 3]) / 2
        return np.stack([cx, y], axis=1)

    def contains(self, xyxy: np.ndarray) -> np.ndarray:
        if len(xyxy) == 0:
            return np.zeros(0, bool)
        points = self.anchor_points(xyxy)
        # Points on the border count as inside: a zone drawn to the frame edge keeps its edge.
        return shapely.intersects_xy(self.polygon, points[:, 0], points[:, 1])
