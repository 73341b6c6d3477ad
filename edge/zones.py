"""Zone geometry: a zone's normalized polygon placed on a frame, tested with Shapely; a shop
front's door line keeps what stands inside the shop out of its strip."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
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
        self.door_px: np.ndarray | None = None
        self._street_side = 0.0
        if zone.door_line is not None:
            self.door_px = np.array([(x * width, y * height) for x, y in zone.door_line], np.float32)
            centre = self.polygon.centroid
            self._street_side = float(np.sign(self._side(np.array([[centre.x, centre.y]], np.float32))[0]))

    def _side(self, points: np.ndarray) -> np.ndarray:
        """Which side of the door line each point lies on (the sign of the cross product)."""
        (ax, ay), (bx, by) = self.door_px
        return (bx - ax) * (points[:, 1] - ay) - (by - ay) * (points[:, 0] - ax)

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
        inside = shapely.intersects_xy(self.polygon, points[:, 0], points[:, 1])
        if self.door_px is not None and self._street_side != 0.0:
            # the strip's side of the door line, or on it: goods put out across the threshold count
            inside &= self._side(points) * self._street_side >= 0.0
        return inside


def zone_mask(zones: Sequence[ZoneConfig], frame_wh: tuple[int, int]) -> np.ndarray:
    """A frame-sized uint8 mask, 255 inside any of ``zones``."""
    width, height = frame_wh
    mask = np.zeros((height, width), np.uint8)
    for zone in zones:
        cv2.fillPoly(mask, [ZoneShape(zone, frame_wh).points_px.round().astype(np.int32)], 255)
    return mask
