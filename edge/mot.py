"""MOTChallenge detection files: ``frame,-1,x,y,w,h,conf,class,...`` with COCO class ids."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from edge.detections import Detections


class MotFormatError(ValueError):
    """A line of a MOT file that cannot be read; the message names file and line."""


def read_mot(path: str | Path) -> dict[int, Detections]:
    """Detections per frame number (1-based). Rows of ``-1`` mark frames with nothing."""
    path = Path(path)
    rows: dict[int, list[tuple[float, float, float, float, float, int]]] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise MotFormatError(f"{path}: cannot read: {exc.strerror or exc}") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        parts = line.split(",")
        try:
            if len(parts) < 8:
                raise ValueError(f"expected at least 8 comma-separated values, got {len(parts)}")
            frame = int(float(parts[0]))
            x, y, w, h, conf = (float(v) for v in parts[2:7])
            cls = int(float(parts[7]))
        except ValueError as exc:
            raise MotFormatError(f"{path}:{number}: {exc}") from None
        bucket = rows.setdefault(frame, [])
        if cls < 0 or w <= 0 or h <= 0:
            continue  # a frame with no detections
        bucket.append((x, y, x + w, y + h, conf, cls))
    out: dict[int, Detections] = {}
    for frame, items in rows.items():
        if not items:
            out[frame] = Detections.empty()
            continue
        arr = np.asarray(items, np.float32)
        out[frame] = Detections(arr[:, :4], arr[:, 4], arr[:, 5].astype(np.int32))
    return out


def iter_mot_frames(detections: dict[int, Detections]) -> Iterator[tuple[int, Detections]]:
    """Every frame from 1 to the last one, empty where the file says nothing."""
    last = max(detections, default=0)
    for frame in range(1, last + 1):
        yield frame, detections.get(frame, Detections.empty())
