"""Personal data in evidence: people in stored images are pixelated (their heads, or the
whole person) before anything is written to disk or kept in a camera's recent past, as
China's Personal Information Protection Law asks of public cameras' side uses. The grid
worker needs the bike and the spot, not the face of whoever walks by. Plates are not found
here: no shared model detects them."""

from __future__ import annotations

import cv2
import numpy as np

from edge.config import BlurMode

HEAD_PART = 0.4  # the top of a person's box taken for the head (generous: people bend, boxes merge)
BLOCKS = 6  # at most this many pixel blocks across what is hidden


def pixelate_people(image: np.ndarray, boxes: np.ndarray, mode: BlurMode) -> np.ndarray:
    """``image`` with each person box (x1, y1, x2, y2 pixels) pixelated: the head part
    (``heads``) or all of it (``people``). Returns a copy; ``none`` returns ``image``."""
    if mode == "none" or len(boxes) == 0:
        return image
    out = image.copy()
    height, width = image.shape[:2]
    for x1, y1, x2, y2 in np.asarray(boxes, np.float32):
        if mode == "heads":
            y2 = y1 + HEAD_PART * (y2 - y1)
        left, top = max(0, int(x1)), max(0, int(y1))
        right, bottom = min(width, int(np.ceil(x2))), min(height, int(np.ceil(y2)))
        if right - left < 2 or bottom - top < 2:
            continue
        roi = out[top:bottom, left:right]
        block = max(2, int(np.ceil((right - left) / BLOCKS)))
        small = cv2.resize(roi, (max(1, (right - left) // block), max(1, (bottom - top) // block)),
                           interpolation=cv2.INTER_AREA)
        out[top:bottom, left:right] = cv2.resize(small, (right - left, bottom - top), interpolation=cv2.INTER_NEAREST)
    return out
