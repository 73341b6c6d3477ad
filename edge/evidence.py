"""Evidence images: a JPEG of the frame with the zones and the violating object drawn."""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np

from contract import Snapshot, ViolationEvent
from edge.caption import Captioner, default_captioner
from edge.retention import Retention
from edge.zones import ZoneShape

log = logging.getLogger(__name__)

_STATE_COLOURS = {"opened": (0, 0, 255), "updated": (0, 140, 255), "cleared": (0, 200, 0)}


class EvidenceError(OSError):
    """An evidence image could not be stored (disk full, no permission, ...)."""


def render_snapshot(frame_bgr: np.ndarray, event: ViolationEvent, shapes: list[ZoneShape],
                    before_at: datetime | None = None, captioner: Captioner | None = None) -> np.ndarray:
    """The frame with the zones, the event's objects and a caption (edge/caption.py); with
    ``before_at``, an earlier frame of the spot (taken then): zones only, no objects."""
    image = frame_bgr.copy()
    overlay = image.copy()
    place = None
    for shape in shapes:
        pts = shape.points_px.round().astype(np.int32)
        active = shape.zone.id == event.zone_id
        colour = (0, 215, 255) if active else (180, 180, 180)
        if active:
            cv2.fillPoly(overlay, [pts], colour)
            place = shape.zone.place
        cv2.polylines(image, [pts], True, colour, 2 if active else 1, cv2.LINE_AA)
        if shape.door_px is not None:  # the shop's door line, thick, in the zone's colour
            a, b = (tuple(int(v) for v in p) for p in shape.door_px.round())
            cv2.line(image, a, b, colour, 4 if active else 2, cv2.LINE_AA)
    image = cv2.addWeighted(overlay, 0.18, image, 0.82, 0)
    colour = _STATE_COLOURS[event.state.value]
    for obj in event.objects if before_at is None else ():
        x1, y1, x2, y2 = (round(v) for v in obj.bbox)
        cv2.rectangle(image, (x1, y1), (x2, y2), colour, 2, cv2.LINE_AA)
        label = f"{obj.class_name} {obj.confidence:.2f}"
        cv2.putText(image, label, (x1, max(12, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1, cv2.LINE_AA)
    captioner = captioner or default_captioner()
    return captioner.draw(image, captioner.text(event, place or event.zone_id, before_at))


@dataclass
class StoredImage:
    path: Path
    snapshot: Snapshot


@dataclass
class Pruned:
    files: int = 0
    bytes: int = 0
    kept_bytes: int = 0
    reason: str = ""


class EvidenceStore:
    """Writes evidence JPEGs under ``root/<camera>/<yyyy-mm-dd>/<event_id>.jpg`` and prunes
    them by age, total size and free disk space, oldest first; images of events still waiting
    in the outbox (``protected``) are pruned only when nothing else is left."""

    def __init__(
        self, root: str | Path, jpeg_quality: int = 85, public_base_url: str | None = None,
        retention: Retention | None = None, protected: Callable[[], set[str]] | None = None,
        captioner: Captioner | None = None,
    ) -> None:
        self.captioner = captioner or default_captioner()
        self.root = Path(root)
        self.jpeg_quality = jpeg_quality
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None
        self.retention = retention or Retention()
        self.protected = protected or set
        self.pruned_total = Pruned()
        self._lock = threading.Lock()

    def save(self, frame_bgr: np.ndarray, event: ViolationEvent, shapes: list[ZoneShape],
             before_at: datetime | None = None) -> StoredImage:
        """The event's snapshot; with ``before_at``, its before image (an earlier frame)."""
        image = render_snapshot(frame_bgr, event, shapes, before_at, self.captioner)
        name = f"{event.event_id}-before.jpg" if before_at is not None else f"{event.event_id}.jpg"
        return self._store(image, event, name)

    def save_crops(self, frame_bgr: np.ndarray, event: ViolationEvent) -> list[StoredImage]:
        """Each of the event's objects cut out of the (unannotated) frame, with a margin of a
        quarter of its size, set as the object's ``crop``."""
        height, width = frame_bgr.shape[:2]
        stored = []
        for index, obj in enumerate(event.objects):
            x1, y1, x2, y2 = obj.bbox
            mx, my = max(8.0, (x2 - x1) / 4), max(8.0, (y2 - y1) / 4)
            left, top = int(max(0.0, x1 - mx)), int(max(0.0, y1 - my))
            right, bottom = int(min(float(width), x2 + mx)), int(min(float(height), y2 + my))
            if right - left < 2 or bottom - top < 2:
                continue
            crop = np.ascontiguousarray(frame_bgr[top:bottom, left:right])
            stored.append(self._store(crop, event, f"{event.event_id}-object{index}.jpg"))
            obj.crop = stored[-1].snapshot
        return stored

    def _store(self, image: np.ndarray, event: ViolationEvent, name: str) -> StoredImage:
        ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
        if not ok:
            raise EvidenceError(f"JPEG encoding failed for event {event.event_id}")
        data = encoded.tobytes()
        digest = hashlib.sha256(data).hexdigest()
        path = self.root / event.camera_id / f"{event.observed_at:%Y-%m-%d}" / name
        try:
            self._write(path, data)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise EvidenceError(f"cannot write evidence {path}: {exc.strerror or exc}") from exc
            freed = self.prune(need_bytes=4 * len(data) + self.retention.min_free_bytes)
            log.error("evidence disk full at %s: pruned the %d oldest images (%d bytes) and tried again",
                      self.root, freed.files, freed.bytes)
            try:
                self._write(path, data)
            except OSError as again:
                raise EvidenceError(f"evidence disk full: cannot write {path} even after pruning "
                                    f"{freed.files} old images: {again.strerror or again}") from again
        url = f"{self.public_base_url}/{digest}.jpg" if self.public_base_url else path.resolve().as_uri()
        height, width = image.shape[:2]
        return StoredImage(path, Snapshot(url=url, sha256=digest, width=width, height=height))

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        tmp = path.with_suffix(".jpg.part")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except OSError:
            tmp.unlink(missing_ok=True)
            raise

    def prune(self, now: float | None = None, need_bytes: int = 0) -> Pruned:
        """Delete what the retention does not keep, oldest first (and, with ``need_bytes``,
        until that much is free). Returns what went and what stays."""
        with self._lock:
            now = time.time() if now is None else now
            files = []
            for path in self.root.rglob("*.jpg"):
                try:
                    stat = path.stat()
                except FileNotFoundError:
                    continue
                files.append((stat.st_mtime, stat.st_size, path))
            files.sort()
            protected = self.protected()
            # Published events' images go first; images still to be uploaded only when the disk
            # needs it and nothing else is left (never for age alone).
            order = [(f, False) for f in files if str(f[2]) not in protected]
            order += [(f, True) for f in files if str(f[2]) in protected]
            done = Pruned(kept_bytes=sum(size for _, size, _ in files))
            keep = self.retention

            def over() -> str:
                if keep.max_bytes is not None and done.kept_bytes > keep.max_bytes:
                    return "size"
                if (keep.min_free_bytes or need_bytes) and (
                        shutil.disk_usage(self.root).free < max(keep.min_free_bytes, need_bytes)):
                    return "free space"
                return ""

            for (mtime, size, path), pending in order:
                too_old = keep.max_age_s is not None and now - mtime > keep.max_age_s and not pending
                reason = "age" if too_old else over()
                if not reason:
                    continue
                path.unlink(missing_ok=True)
                done.files += 1
                done.bytes += size
                done.kept_bytes -= size
                done.reason = done.reason or reason
            self.pruned_total.files += done.files
            self.pruned_total.bytes += done.bytes
            self.pruned_total.kept_bytes = done.kept_bytes
            if done.files:
                log.warning("evidence: pruned %d images (%d bytes) by %s; %d bytes kept", done.files, done.bytes,
                            done.reason, done.kept_bytes)
            return done
