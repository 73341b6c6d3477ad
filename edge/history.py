"""A camera's recent past: one sampled frame every few seconds, kept in memory over a span as
long as the camera's longest dwell, so that a violation's evidence can show the spot before the
object came to rest (the "before" image of the case).

A frame is kept as a small JPEG; a camera detected on its substream keeps its main stream's
keyframe instead, still compressed (``edge.mainstream.HeldKeyframe``), decoded only when a
before image is wanted, so a quiet camera decodes and encodes no picture for its past."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Protocol

import cv2
import numpy as np

from edge.images import shrink

KEEP_EVERY_S = 5.0  # a frame of the camera's recent past this often


class KeptPicture(Protocol):
    """A picture of the recent past, as it is kept: its bytes, and the picture when asked."""

    nbytes: int

    def __call__(self) -> np.ndarray | None: ...


class _Jpeg:
    def __init__(self, frame_bgr: np.ndarray, max_width: int, quality: int) -> None:
        height, width = frame_bgr.shape[:2]
        self.size = (width, height)  # as seen, so that the zones' pixel coordinates fit it
        if width > max_width:
            frame_bgr = shrink(frame_bgr, (max_width, round(height * max_width / width)))
        ok, encoded = cv2.imencode(".jpg", frame_bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
        self.data = encoded.tobytes() if ok else b""
        self.nbytes = len(self.data)

    def __call__(self) -> np.ndarray | None:
        image = cv2.imdecode(np.frombuffer(self.data, np.uint8), cv2.IMREAD_COLOR)
        if image is not None and (image.shape[1], image.shape[0]) != self.size:
            image = cv2.resize(image, self.size, interpolation=cv2.INTER_LINEAR)
        return image


class _Later:
    """A kept picture made when asked: ``picture`` and then ``finish`` (privacy) on it."""

    def __init__(self, picture: KeptPicture, finish: Callable[[np.ndarray], np.ndarray]) -> None:
        self.picture, self.finish = picture, finish
        self.nbytes = picture.nbytes

    def __call__(self) -> np.ndarray | None:
        image = self.picture()
        return None if image is None else self.finish(image)


MAX_BYTES = 8 * 1024 * 1024  # a camera's recent past at most; 40 cameras: 320 MB


class FrameHistory:
    """Kept frames over ``span_s``, one every ``every_s``; past ``max_bytes`` the frames are
    thinned where they lie closest together, so that they still cover the whole span (a 1080p
    keyframe is some 100-300 kB: a 15-minute span keeps one every half minute or so, and the
    before image is that much older)."""

    def __init__(self, span_s: float, every_s: float = KEEP_EVERY_S, max_width: int = 960, quality: int = 80,
                 max_bytes: int = MAX_BYTES) -> None:
        self.span_s = span_s
        self.every_s = every_s
        self.max_width = max_width
        self.quality = quality
        self.max_bytes = max_bytes
        self._frames: deque[tuple[float, KeptPicture]] = deque()
        self.nbytes = 0

    def due(self, t: float) -> bool:
        """Whether a frame at media time ``t`` would be kept."""
        return not self._frames or t - self._frames[-1][0] >= self.every_s

    def add(self, t: float, frame_bgr: np.ndarray) -> None:
        """Keep ``frame_bgr`` (media time ``t``) if the last kept frame is ``every_s`` old."""
        if self.due(t):
            kept = _Jpeg(frame_bgr, self.max_width, self.quality)
            if kept.nbytes:
                self._keep(t, kept)

    def add_later(self, t: float, picture: KeptPicture, finish: Callable[[np.ndarray], np.ndarray]) -> None:
        """Keep ``picture`` as it is (a compressed keyframe), to be decoded and ``finish``-ed
        only if a before image wants it; when due, as :meth:`add`."""
        if self.due(t):
            self._keep(t, _Later(picture, finish))

    def _keep(self, t: float, kept: KeptPicture) -> None:
        self._frames.append((t, kept))
        self.nbytes += kept.nbytes
        while self._frames and t - self._frames[0][0] > self.span_s:
            self.nbytes -= self._frames.popleft()[1].nbytes
        while self.nbytes > self.max_bytes and len(self._frames) > 2:
            times = [kept_t for kept_t, _ in self._frames]
            closest = min(range(1, len(times) - 1), key=lambda k: times[k + 1] - times[k - 1])
            self.nbytes -= self._frames[closest][1].nbytes
            del self._frames[closest]

    def before(self, t: float) -> tuple[float, np.ndarray] | None:
        """The newest kept frame from no later than ``t``, at the size it was seen."""
        found = None
        for kept in self._frames:
            if kept[0] > t:
                break
            found = kept
        if found is None:
            return None
        image = found[1]()
        return None if image is None else (found[0], image)

    def __len__(self) -> int:
        return len(self._frames)
