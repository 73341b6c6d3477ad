"""Box geometry on the contract's ``bbox`` values, the one place both halves take it from.

The edge matches detections to tracks and spots with it; the dispatcher uses it to tell whether
two events of one camera and zone mark the same spot (``dedup.spot_iou``). NumPy is there on both
halves (Shapely, which the contract's zones need, depends on it).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in ``a`` (N, 4) with every box in ``b`` (M, 4): an (N, M) matrix.
    Boxes are ``[x1, y1, x2, y2]``."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), np.float32)
    tl = np.maximum(a[:, None, :2], b[None, :, :2])
    br = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(br - tl, 0, None).prod(axis=2)
    area_a = (a[:, 2:] - a[:, :2]).clip(0).prod(axis=1)
    area_b = (b[:, 2:] - b[:, :2]).clip(0).prod(axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0).astype(np.float32)


def same_spot(a: Sequence[float] | None, b: Sequence[float] | None, min_iou: float) -> bool:
    """Two boxes of one camera and zone mark the same spot when they overlap this much."""
    if a is None or b is None:
        return False
    return bool(box_iou(np.asarray([a], np.float64), np.asarray([b], np.float64))[0, 0] >= min_iou)
