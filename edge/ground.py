"""Ground points in metres, where a zone gives its camera's ground plane (``ZoneConfig.ground``).

The tracker judges stillness with it: an object whose box's bottom centre (where it stands)
lies in a calibrated zone is still while that point stays within ``still_m`` of where it came
to rest and drifts slower than ``max_speed_kmh``; elsewhere, in image terms (edge/tracker.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import Polygon

from edge.config import ZoneConfig


@dataclass(frozen=True)
class GroundPoints:
    """Per box: its ground point in metres and the still limits of its zone; NaN where no
    calibrated zone holds the box's bottom centre."""

    xy: np.ndarray  # (N, 2) metres
    still_m: np.ndarray  # (N,)
    max_speed_m_s: np.ndarray  # (N,)

    def known(self, i: int) -> bool:
        return bool(np.isfinite(self.still_m[i]))


class GroundMap:
    """The calibrated zones of one camera placed on a frame of ``frame_wh`` pixels."""

    def __init__(self, zones: Sequence[ZoneConfig], frame_wh: tuple[int, int]) -> None:
        width, height = frame_wh
        self.scale = np.array([width, height], np.float64)
        self.zones = [
            (Polygon([(x * width, y * height) for x, y in z.polygon]), z.ground.matrix(), z.ground)
            for z in zones if z.ground is not None
        ]
        for polygon, _, _ in self.zones:
            shapely.prepare(polygon)

    def __bool__(self) -> bool:
        return bool(self.zones)

    def project(self, xyxy: np.ndarray) -> GroundPoints:
        """The ground points of boxes ``xyxy`` (N, 4 pixels); the first calibrated zone holding a
        box's bottom centre decides it."""
        n = len(xyxy)
        out = GroundPoints(np.full((n, 2), np.nan), np.full(n, np.nan), np.full(n, np.nan))
        if not n or not self.zones:
            return out
        feet = np.stack([(xyxy[:, 0] + xyxy[:, 2]) / 2, xyxy[:, 3]], axis=1).astype(np.float64)
        todo = np.ones(n, bool)
        for polygon, matrix, ground in self.zones:
            inside = todo & shapely.intersects_xy(polygon, feet[:, 0], feet[:, 1])
            if not inside.any():
                continue
            normalized = feet[inside] / self.scale
            mapped = np.c_[normalized, np.ones(len(normalized))] @ matrix.T
            out.xy[inside] = mapped[:, :2] / mapped[:, 2:3]
            out.still_m[inside] = ground.still_m
            out.max_speed_m_s[inside] = ground.max_speed_kmh / 3.6
            todo &= ~inside
        return out


__all__ = ["GroundMap", "GroundPoints"]
