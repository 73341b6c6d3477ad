"""Evidence images: a JPEG of the frame with the zones and the violating object drawn."""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from contract import Snapshot, ViolationEvent
from edge.zones import ZoneShape

log = logging.getLogger(__name__)

_STATE_COLOURS = {"opened": (0, 0, 255), "updated": (0, 140, 255), "cleared": (0, 200, 0)}


class EvidenceError(OSError):
    """An evidence image could not be stored (disk full, no permission, ...)."""


def render_snapshot(frame_bgr: np.ndarray, event: ViolationEvent, shapes: list[ZoneShape]) -> np.ndarray:
    image = frame_bgr.copy()
    overlay = image.copy()
    for shape in shapes:
        pts = shape.points_px.round().astype(np.int32)
        active = shape.zone.id == event.zone_id
        colour = (0, 215, 255) if active else (180, 180, 180)
        if active:
            cv2.fillPoly(overlay, [pts], colour)
        cv2.polylines(image, [pts], True, colour, 2 if active else 1, cv2.LINE_AA)
    image = cv2.addWeighted(overlay, 0.18, image, 0.82, 0)
    colour = _STATE_COLOURS[event.state.value]
    for obj in event.objects:
        x1, y1, x2, y2 = (round(v) for v in obj.bbox)
        cv2.rectangle(image, (x1, y1), (x2, y2), colour, 2, cv2.LINE_AA)
        label = f"{obj.class_name} {obj.confidence:.2f}"
        cv2.putText(image, label, (x1, max(12, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1, cv2.LINE_AA)
    header = (
        f"{event.camera_id}/{event.zone_id} {event.kind.value} {event.state.value} "
        f"dwell {event.dwell_s:.0f}s {event.observed_at:%Y-%m-%d %H:%M:%S}Z"
    )
    scale = 0.42
    while scale > 0.2 and cv2.getTextSize(header, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] > image.shape[1] - 8:
        scale -= 0.02  # small frames get a smaller header, never a cut one
    cv2.rectangle(image, (0, 0), (image.shape[1], 18), (0, 0, 0), -1)
    cv2.putText(image, header, (4, 13), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return image


@dataclass
class StoredImage:
    path: Path
    snapshot: Snapshot


class EvidenceStore:
    """Writes evidence JPEGs under ``root/<camera>/<yyyy-mm-dd>/<event_id>.jpg``."""

    def __init__(self, root: str | Path, jpeg_quality: int = 85, public_base_url: str | None = None) -> None:
        self.root = Path(root)
        self.jpeg_quality = jpeg_quality
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None

    def save(self, frame_bgr: np.ndarray, event: ViolationEvent, shapes: list[ZoneShape]) -> StoredImage:
        image = render_snapshot(frame_bgr, event, shapes)
        ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
        if not ok:
            raise EvidenceError(f"JPEG encoding failed for event {event.event_id}")
        data = encoded.tobytes()
        digest = hashlib.sha256(data).hexdigest()
        path = self.root / event.camera_id / f"{event.observed_at:%Y-%m-%d}" / f"{event.event_id}.jpg"
        tmp = path.with_suffix(".jpg.part")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise EvidenceError(f"cannot write evidence {path}: {exc.strerror or exc}") from exc
        url = f"{self.public_base_url}/{digest}.jpg" if self.public_base_url else path.resolve().as_uri()
        height, width = image.shape[:2]
        return StoredImage(path, Snapshot(url=url, sha256=digest, width=width, height=height))
