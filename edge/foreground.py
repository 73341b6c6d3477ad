"""New things standing where there were none: a background model for what no detector knows.

No public model has a class for a shop's goods, racks or stalls. A shop front's strip can
instead ask for *stationary foreground*: a region that differs from the strip as it usually
looks (the long-term background) while it stays the same from sample to sample (the
short-term background), i.e. something new that has stopped there. This is the dual
background method used for left objects (Porikli et al., 2008), on small blurred colour
frames (320 px wide):

- the first long-term background is the median of the first ``warmup_s`` (8 s), so what
  merely passed then leaves no ghost; so is the one learnt again after a change of light;
- each pixel knows its own noise (its median absolute deviation over the warm-up, then
  followed where nothing new stands): a pixel has changed when its colour differs by more
  than ``noise_factor`` times that and at least ``min_level`` levels, in any channel. Flat
  pavement is watched closely, compressed tile texture and flickering leaves less so; goods
  in the pavement's own dull colours (a grey bag on grey tiles, brown boxes on a wooden
  floor) differ from it by far less than one fixed grey threshold asks (as in MOG2 and the
  SuBSENSE/PAWCS family);
- a change that keeps the background's colour (chromaticity) and brightens or darkens it by
  a factor (``shadow_ratio``), with the background's texture still showing through where it
  has any (on ground without texture: by a clear factor, ``flat_light``), is light: a
  shadow or a patch of sun, no object;
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

import functools
import math
from dataclasses import dataclass

import cv2
import numpy as np

from contract.geometry import box_iou
from edge.detections import Detections
from edge.images import shrink

FOREGROUND_CLASS = "stationary_object"  # the class name zones and events use
WORK_WIDTH = 320  # frames are compared at this width (colour): noise averages out, 4-8 ms a sample in all
MAX_CHANGED_SHARE = 0.5  # more of the frame changed than this: the light changed, relearn


@dataclass(frozen=True)
class ForegroundSettings:
    min_level: float = 10.0  # colour levels (0-255) a pixel must differ by to count as changed, at least
    noise_factor: float = 4.0  # ... and this many times the pixel's own noise
    short_s: float = 2.0
    learn_s: float = 60.0
    absorb_s: float = 4 * 3600.0
    min_area: float = 0.002  # of the frame; smaller blobs are noise
    max_area: float = 0.25  # of the frame; larger ones are a scene change, not an object
    warmup_s: float = 8.0  # the first background is the median of this long: passers-by leave no ghost
    warmup_frames: int = 8  # frames gathered over the warm-up
    shadow_ratio: tuple[float, float] = (0.45, 1.6)  # brightness factors light (shadow, sun) may change by
    max_chroma: float = 0.025  # chromaticity difference (r, g shares) light keeps within
    min_texture: float = 3.0  # mean gradient (levels/px) above which the background has texture to show
    texture_match: float = 0.6  # gradient correlation above which the background's texture shows through
    # On ground without texture, only a clear brightness change is light: a faint one in the
    # same colour is as likely dull goods (a grey bag on grey pavement) and counts as a change.
    flat_light: tuple[float, float] = (0.8, 1.25)


# NumPy reduces along a last axis of three (a pixel's channels) ten times slower than it
# combines the three planes: 2.7 against 0.24 ms for a 320x180 frame here. The background
# model does it several times a sample, so these helpers take the planes, with the same
# results to the bit (the same operations in the same order).


def _channel_max(image: np.ndarray) -> np.ndarray:
    """Each pixel's largest channel value."""
    return functools.reduce(np.maximum, (image[..., c] for c in range(image.shape[-1])))


def _largest_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Each pixel's largest difference between ``a`` and ``b`` in any channel."""
    return _channel_max(cv2.absdiff(a, b))


def _luma(image: np.ndarray) -> np.ndarray:
    return image @ np.array([0.114, 0.587, 0.299], np.float32)  # BGR


def _chroma(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel's g and r shares of its brightness."""
    total = image[..., 0] + image[..., 1] + image[..., 2] + 12.0  # + a little: dark pixels' shares are noise
    return image[..., 1] / total, image[..., 2] / total


def _gradients(luma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return cv2.Sobel(luma, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(luma, cv2.CV_32F, 0, 1, ksize=3)


def _edges(image: np.ndarray) -> np.ndarray:
    """Each pixel's gradient magnitude."""
    gx, gy = cv2.Sobel(image, cv2.CV_32F, 1, 0), cv2.Sobel(image, cv2.CV_32F, 0, 1)
    return np.hypot(gx, gy)


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
        self.long: np.ndarray | None = None  # (h, w, 3) colour
        self.short: np.ndarray | None = None
        self.noise: np.ndarray | None = None  # (h, w) each pixel's own noise, levels
        self.last_t = 0.0
        self.relearnt = 0
        self.ghosts = 0  # blobs found to be where something left, learnt as background
        self.shadows = 0  # samples in which light (a shadow, a patch of sun) was told from objects
        self._warmup: list[np.ndarray] = []
        self._warmup_from: float | None = None
        self._long_gradients: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def _small(self, frame_bgr: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(shrink(frame_bgr, self.size), (5, 5), 0).astype(np.float32)

    def update(self, t: float, frame_bgr: np.ndarray, people: np.ndarray, explained: np.ndarray) -> Detections:
        """This sample's blobs. ``people``: person boxes (never an object; nor is what they
        cover); ``explained``: boxes the detector found already (counted as themselves)."""
        frame = self._small(frame_bgr)
        s = self.settings
        if self.long is None or self.short is None or self.noise is None:
            self._learn(t, frame)
            return Detections.empty()
        dt, self.last_t = t - self.last_t, t
        threshold = np.maximum(s.min_level, s.noise_factor * self.noise)
        difference = _largest_difference(frame, self.long)
        changed = difference > threshold
        if changed.mean() > MAX_CHANGED_SHARE:
            self._relearn(t, frame)
            return Detections.empty()
        luma = _luma(frame)
        light = changed & self._light(frame, luma)
        if (light & self.mask).any():
            self.shadows += 1
        settled = _largest_difference(frame, self.short) <= threshold
        stationary = changed & ~light & settled & self.mask
        # Backgrounds learn after the comparison: what stands new is absorbed only slowly.
        self.short += _rate(dt, s.short_s) * (frame - self.short)
        learn = np.where(changed, _rate(dt, s.absorb_s), _rate(dt, s.learn_s)).astype(np.float32)
        self.long += learn[..., None] * (frame - self.long)
        followed = self.noise + _rate(dt, s.learn_s) * (difference - self.noise)
        self.noise = np.where(changed, self.noise, followed)  # followed where nothing new stands
        self._long_gradients = None
        return self._blobs(frame, luma, stationary, people, explained)

    def _light(self, frame: np.ndarray, luma: np.ndarray) -> np.ndarray:
        """Where the frame is the background under other light: the same colour, brighter or
        darker by a factor, and its texture showing through where the background has any."""
        assert self.long is not None
        s = self.settings
        long_luma = _luma(self.long)
        ratio = (luma + 1.0) / (long_luma + 1.0)
        (g, r), (long_g, long_r) = _chroma(frame), _chroma(self.long)
        same_colour = np.maximum(np.abs(g - long_g), np.abs(r - long_r)) <= s.max_chroma
        lit = same_colour & (ratio >= s.shadow_ratio[0]) & (ratio <= s.shadow_ratio[1])
        if self._long_gradients is None:
            gx, gy = _gradients(long_luma)
            self._long_gradients = (gx, gy, cv2.boxFilter(gx * gx + gy * gy, -1, (7, 7)))
        bx, by, b_energy = self._long_gradients
        fx, fy = _gradients(luma)
        dot = cv2.boxFilter(fx * bx + fy * by, -1, (7, 7))
        f_energy = cv2.boxFilter(fx * fx + fy * fy, -1, (7, 7))
        correlation = dot / np.sqrt(np.maximum(f_energy * b_energy, 0.0) + 1e-6)
        textured = np.sqrt(np.maximum(b_energy, 0.0)) > s.min_texture * 4  # Sobel 3x3 gains about 4
        clear = (ratio <= s.flat_light[0]) | (ratio >= s.flat_light[1])
        return lit & np.where(textured, correlation >= s.texture_match, clear)

    def _relearn(self, t: float, frame: np.ndarray) -> None:
        """The light changed over most of the frame: learnt afresh, from a median again."""
        self.long = self.short = self.noise = None
        self._warmup, self._warmup_from = [], None
        self.relearnt += 1
        self._learn(t, frame)

    def _is_ghost(self, frame: np.ndarray, edges: tuple[np.ndarray, np.ndarray], blob: np.ndarray) -> bool:
        """A blob where something *left* (it stood there while the background was learnt).
        Two signs, both needed: its outline has edges in the background but not in the frame,
        and in the frame its inside matches its surroundings while in the background it did
        not. A new object is the other way round, even one in the ground's own dull colour on
        textured ground (whose outline edges are weaker than the texture's)."""
        if self.long is None:
            return False
        cell = np.ones((3, 3), np.uint8)
        inside = blob & ~(cv2.erode(blob.astype(np.uint8), cell, iterations=2) > 0)
        around = (cv2.dilate(blob.astype(np.uint8), cell, iterations=3) > 0) & ~blob
        ring = cv2.morphologyEx(blob.astype(np.uint8), cv2.MORPH_GRADIENT, cell) > 0
        if not inside.any() or not around.any() or not ring.any():
            return False

        def step(image: np.ndarray) -> float:  # the colour step from the blob's edge to its surroundings
            return float(np.abs(image[inside].mean(axis=0) - image[around].mean(axis=0)).max())

        frame_edges, long_edges = edges  # of the frame's and the background's brightness
        edges_left = float(frame_edges[ring].mean()) < float(long_edges[ring].mean())
        return edges_left and step(frame) < step(self.long)

    def _learn(self, t: float, frame: np.ndarray) -> None:
        """Gather ``warmup_frames`` frames over ``warmup_s``; then their median is the
        background and their spread about it each pixel's noise. A car or a person passing
        through a few of them is not in it (a frame taken as it is would keep them, and their
        leaving would look like a new object)."""
        if self._warmup_from is None:
            self._warmup_from = t
        step = self.settings.warmup_s / self.settings.warmup_frames
        if not self._warmup or t - self.last_t >= step:
            self._warmup.append(frame)
            self.last_t = t
        if t - self._warmup_from >= self.settings.warmup_s and len(self._warmup) >= 3:
            stack = np.stack(self._warmup)
            self.long = np.median(stack, axis=0).astype(np.float32)
            spread = np.abs(stack - self.long).max(axis=3)
            self.noise = (1.4826 * np.median(spread, axis=0)).astype(np.float32)  # MAD as a deviation
            self.short = frame.copy()
            self.last_t, self._warmup = t, []

    def _blobs(self, frame: np.ndarray, luma: np.ndarray, stationary: np.ndarray, people: np.ndarray,
               explained: np.ndarray) -> Detections:
        s = self.settings
        frame_edges: np.ndarray | None = None  # found when a blob is to be judged, once a sample
        long_edges: np.ndarray | None = None  # again after a ghost, which changes the background
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
            assert self.long is not None and self.short is not None
            frame_edges = _edges(luma) if frame_edges is None else frame_edges
            long_edges = _edges(_luma(self.long)) if long_edges is None else long_edges
            if self._is_ghost(frame, (frame_edges, long_edges), blob):
                self.long[blob] = self.short[blob]  # the place is as it is now: learn it
                long_edges = None
                self.ghosts += 1
                continue
            boxes.append([x / self.scale, y / self.scale, (x + w) / self.scale, (y + h) / self.scale])
        if not boxes:
            return Detections.empty()
        xyxy = np.array(boxes, np.float32)
        if len(explained):
            xyxy = xyxy[box_iou(xyxy, explained.astype(np.float32)).max(axis=1) < 0.3]
        return Detections(xyxy, np.ones(len(xyxy), np.float32), np.zeros(len(xyxy), np.int32))
