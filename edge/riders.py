"""Bikes being ridden: a two-wheeler with a rider on it is in traffic, not parked, even when
it stands still (at a red light, waiting at a door). The test is on the boxes of one frame:
the rider's box stands over the middle of the bike's, its top above the bike's upper part,
its lower end reaching down into the bike and not far below it (a pedestrian in front of a
bike, nearer the camera, ends lower), and the two overlap on at least a fifth of the bike."""

from __future__ import annotations

import numpy as np

MIN_OVERLAP = 0.2  # of the bike's box


def ridden(bikes: np.ndarray, riders: np.ndarray) -> np.ndarray:
    """For each bike box (N x 4, x1 y1 x2 y2), whether one of the rider boxes (M x 4) rides it."""
    if len(bikes) == 0 or len(riders) == 0:
        return np.zeros(len(bikes), bool)
    b = bikes[:, None, :].astype(np.float32)
    r = riders[None, :, :].astype(np.float32)
    width, height = b[..., 2] - b[..., 0], b[..., 3] - b[..., 1]
    centre = (r[..., 0] + r[..., 2]) / 2
    over_middle = (centre >= b[..., 0] + 0.15 * width) & (centre <= b[..., 2] - 0.15 * width)
    head_above = r[..., 1] < b[..., 1] + 0.25 * height
    reaches_in = (r[..., 3] > b[..., 1] + 0.4 * height) & (r[..., 3] < b[..., 3] + 0.15 * height)
    inter_w = np.clip(np.minimum(b[..., 2], r[..., 2]) - np.maximum(b[..., 0], r[..., 0]), 0, None)
    inter_h = np.clip(np.minimum(b[..., 3], r[..., 3]) - np.maximum(b[..., 1], r[..., 1]), 0, None)
    overlaps = inter_w * inter_h >= MIN_OVERLAP * np.maximum(width * height, 1e-6)
    return (over_middle & head_above & reaches_in & overlaps).any(axis=1)
