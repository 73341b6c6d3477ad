"""New things standing where there were none: a background model for what no detector knows.

No public model has a class for a shop's goods, racks or stalls. A shop front's strip can
instead ask for *stationary foreground*: a region that differs from the strip as it usually
looks (the long-term background) while it stays the same from sample to sample (the
short-term background), i.e. something new that has stopped there. This is the dual
background method used for left objects (Porikli et al., 2008), on small grey frames:

- the first long-term background is the median of the first ``warmup_s``, so what merely
  passed then leaves no ghost; so is the one learnt again after a change of light;
- the short-term background follows every sample quickly (``short_s``): what moves differs
  from it, what stands still soon matches it;
- the long-term background learns slowly (``learn_s``) where nothing new stands, and absorbs
  what stands only after ``absorb_s`` (hours: goods put out all day stay found);
- a region different from the long-term and equal to the short-term background, the size of
  an object, not covered by a person or by a box the detector already explains, is a blob;
  unless its outline has edges in the background and none in the frame: then it is a
  *ghost*, where something stood while the background was learnt and has gone, and the
  background learns the place as it is.

Blobs become detections of one extra class, ``stationary_object``, which the zone rules treat like any
other: dwell, spots, clearing when the strip looks as before. A change over most of the
frame (lights switched on, the sun out) is no object: the background is learnt again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from contract.geometry import box_iou
from edge.detections import Detections

FOREGROUND_CLASS = "stationary_object"  # the class name zones and events use
WORK_WIDTH = 320  # frames are compared at this width (grey): noise averages out, it costs < 1 ms
MAX_CHANGED_SHARE = 0.5  # more of the frame changed than this: the light changed, relearn


@dataclass(frozen=True)
class ForegroundSettings:
    threshold: float = 28.0  # grey levels of difference that count as changed
    short_s: float = 2.0
    learn_s: float = 60.0
    absorb_s: float = 4 * 3600.0
    min_area: float = 0.002  # of the frame; smaller blobs are noise
    max_area: float = 0.25  # of the frame; larger ones are a scene change, not an object
    warmup_s: float = 30.0  # the first background is the median of this long: passers-by leave no ghost


def _edge_strength(image: np.ndarray, where: np.ndarray) -> float:
    """Mean gradient magnitude of ``image`` over the pixels ``where`` is true."""
    gx, gy = cv2.Sobel(image, cv2.CV_32F, 1, 0), cv2.Sobel(image, cv2.CV_32F, 0, 1)
    return float(np.hypot(gx, gy)[where].mean())


def _rate(dt: float, time_constant_s: float) -> float:
    return 1.0 - math.exp(-max(dt, 0.0) / time_constant_s)


class StationaryForeground:
    """Finds new stationary blobs in one camera's sampled frames, inside ``mask`` (the zones
    that ask for them, as a frame-sized uint8 mask)."""

    def __init__(self, mask: np.ndarray, settings: ForegroundSettings | None = None) -> None:
        self.settings = settings or ForegroundSettings()
        height, width = mask.shape[:2]
        self.frame_hw = (height, width)
        self.scale = WORK_WIDTH / width
        self.size = (WORK_WIDTH, max(1, round(height * self.scale)))
        self.mask = cv2.resize(mask, self.size, interpolation=cv2.INTER_NEAREST) > 0
        self.long: np.ndarray | None = None
        self.short: np.ndarray | None = None
        self.last_t = 0.0
        self.relearnt = 0
        self.ghosts = 0  # blobs found to be where something left, learnt as background
        self._warmup: list[np.ndarray] = []
        self._warmup_from: float | None = None

    def _grey(self, frame_bgr: np.ndarray) -> np.ndarray:
        small = cv2.resize(frame_bgr, self.size, interpolation=cv2.INTER_AREA)
        return cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (5, 5), 0).astype(np.float32)

    def update(self, t: float, frame_bgr: np.ndarray, people: np.ndarray, explained: np.ndarray) -> Detections:
        """This sample's blobs. ``people``: person boxes (never an object; nor is what they
        cover); ``explained``: boxes the detector found already (counted as themselves)."""
        grey = self._grey(frame_bgr)
        s = self.settings
        if self.long is None or self.short is None:
            self._learn(t, grey)
            return Detections.empty()
        dt, self.last_t = t - self.last_t, t
        changed = np.abs(grey - self.long) > s.threshold
        if changed.mean() > MAX_CHANGED_SHARE:
            self.long = self.short = None  # learnt afresh, from a median again
            self._warmup, self._warmup_from = [], None
            self.relearnt += 1
            self._learn(t, grey)
            return Detections.empty()
        settled = np.abs(grey - self.short) <= s.threshold
        stationary = changed & settled & self.mask
        # Backgrounds learn after the comparison: what stands new is absorbed only slowly.
        self.short += _rate(dt, s.short_s) * (grey - self.short)
        learn = np.where(changed, _rate(dt, s.absorb_s), _rate(dt, s.learn_s)).astype(np.float32)
        self.long += learn * (grey - self.long)
        return self._blobs(grey, stationary, people, explained)

    def _is_ghost(self, grey: np.ndarray, blob: np.ndarray) -> bool:
        """A blob where something *left* (it stood there while the background was learnt):
        its outline has edges in the background but not in the frame. A new object's outline
        is an edge of the frame."""
        ring = cv2.morphologyEx(blob.astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
        if not ring.any() or self.long is None:
            return False
        return _edge_strength(grey, ring) < _edge_strength(self.long, ring)

    def _learn(self, t: float, grey: np.ndarray) -> None:
        """Gather a frame every ``warmup_s / 15``; after ``warmup_s`` their median is the
        background. A car or a person passing through a few of them is not in it (a frame
        taken as it is would keep them, and their leaving would look like a new object)."""
        if self._warmup_from is None:
            self._warmup_from = t
        step = self.settings.warmup_s / 15
        if not self._warmup or t - self.last_t >= step:
            self._warmup.append(grey)
            self.last_t = t
        if t - self._warmup_from >= self.settings.warmup_s:
            self.long = np.median(np.stack(self._warmup), axis=0).astype(np.float32)
            self.short = grey.copy()
            self.last_t, self._warmup = t, []

    def _blobs(self, grey: np.ndarray, stationary: np.ndarray, people: np.ndarray,
               explained: np.ndarray) -> Detections:
        s = self.settings
        binary = stationary.astype(np.uint8)
        for box in people:  # a person standing in the strip is the shopkeeper, not goods
            x0, y0, x1, y1 = (int(float(v) * self.scale + 0.5) for v in box)
            pad = max(2, (x1 - x0) // 6)
            binary[max(0, y0 - pad):y1 + pad, max(0, x0 - pad):x1 + pad] = 0
        binary = cv2.morphologyEx(binary, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        binary = cv2.morphologyEx(binary, cv2.MORPH_CLOSE, np.ones((7, 7), np.uint8))
        count, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
        area_px = binary.shape[0] * binary.shape[1]
        boxes = []
        for i in range(1, count):
            x, y, w, h, area = stats[i]
            if not s.min_area * area_px <= area <= s.max_area * area_px:
                continue
            blob = labels == i
            if self._is_ghost(grey, blob):
                assert self.long is not None
                self.long[blob] = grey[blob]  # the place is as it is now: learn it
                self.ghosts += 1
                continue
            boxes.append([x / self.scale, y / self.scale, (x + w) / self.scale, (y + h) / self.scale])
        if not boxes:
            return Detections.empty()
        xyxy = np.array(boxes, np.float32)
        if len(explained):
            xyxy = xyxy[box_iou(xyxy, explained.astype(np.float32)).max(axis=1) < 0.3]
        return Detections(xyxy, np.ones(len(xyxy), np.float32), np.zeros(len(xyxy), np.int32))
