"""A camera's recent past: one sampled frame every few seconds, kept as a small JPEG in
memory over a span as long as the camera's longest dwell, so that a violation's evidence can
show the spot before the object came to rest (the "before" image of the case)."""

from __future__ import annotations

from collections import deque

import cv2
import numpy as np

KEEP_EVERY_S = 5.0  # a frame of the camera's recent past this often


class FrameHistory:
    def __init__(self, span_s: float, every_s: float = KEEP_EVERY_S, max_width: int = 960, quality: int = 80) -> None:
        self.span_s = span_s
        self.every_s = every_s
        self.max_width = max_width
        self.quality = quality
        self._frames: deque[tuple[float, bytes, tuple[int, int]]] = deque()  # time, JPEG, size seen

    def due(self, t: float) -> bool:
        """Whether a frame at media time ``t`` would be kept."""
        return not self._frames or t - self._frames[-1][0] >= self.every_s

    def add(self, t: float, frame_bgr: np.ndarray) -> None:
        """Keep ``frame_bgr`` (media time ``t``) if the last kept frame is ``every_s`` old."""
        if not self.due(t):
            return
        height, width = frame_bgr.shape[:2]
        if width > self.max_width:
            frame_bgr = cv2.resize(frame_bgr, (self.max_width, round(height * self.max_width / width)),
                                   interpolation=cv2.INTER_AREA)
        ok, encoded = cv2.imencode(".jpg", frame_bgr, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if ok:
            self._frames.append((t, encoded.tobytes(), (width, height)))
        while self._frames and t - self._frames[0][0] > self.span_s:
            self._frames.popleft()

    def before(self, t: float) -> tuple[float, np.ndarray] | None:
        """The newest kept frame from no later than ``t``, at the size it was seen (so that the
        zones' pixel coordinates fit it)."""
        found = None
        for kept in self._frames:
            if kept[0] > t:
                break
            found = kept
        if found is None:
            return None
        kept_t, data, size = found
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if (image.shape[1], image.shape[0]) != size:
            image = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
        return kept_t, image

    @property
    def nbytes(self) -> int:
        return sum(len(kept[1]) for kept in self._frames)

    def __len__(self) -> int:
        return len(self._frames)
