"""Scene guard: notices when a camera's view no longer fits its zones.

A PTZ camera that drifted off its preset, a knocked camera, a lens covered or fogged: the
zones then lie over the wrong ground and every "violation" would be false. The guard learns
the view from the first sampled frames, compares each later frame with it and, when the view
has stayed different for ``confirm_s``, says so; the camera's zones are suspended (no event
is decided, no open violation clears) until the view has matched again for ``confirm_s``.

A sampled frame is judged at most every ``every_s`` (2 s by default: against a 10 s
confirmation a change is noticed up to 2 s later, and a camera sampled at 1 frame/s spends
half the guard's CPU, some 0.6 ms a sample here). Comparisons are on small grey thumbnails,
robust to traffic and light:
- *blocked*: the frame is nearly uniform (covered, black, lost video);
- *blurred*: its sharpness (variance of the Laplacian) fell below a share of the learnt view's;
- *moved*: the learnt view's edges no longer line up with the frame's (normalised correlation
  of gradient magnitudes below ``min_similarity``), or phase correlation finds them shifted;
- *stalled*: the stream sends the very same picture for ``frozen_s`` (a hung encoder).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge.config import SceneConfig
from edge.images import shrink
from i18n import Msg

THUMB = (160, 90)


@dataclass(frozen=True)
class SceneVerdict:
    ok: bool
    reason: str  # "" when ok


def _grey(image: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    return shrink(grey, THUMB).astype(np.float32)


def _edges(grey: np.ndarray) -> np.ndarray:
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    return cv2.GaussianBlur(cv2.magnitude(gx, gy), (5, 5), 0)


def _sharpness(grey: np.ndarray) -> float:
    return float(cv2.Laplacian(grey, cv2.CV_32F).var())


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    denominator = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / denominator) if denominator > 0 else 0.0


class SceneGuard:
    def __init__(self, cfg: SceneConfig | None = None) -> None:
        self.cfg = cfg or SceneConfig()
        self._learning: list[np.ndarray] = []
        self.reference: np.ndarray | None = None
        self.reference_edges: np.ndarray | None = None
        self.reference_sharpness = 0.0
        self.suspended = False
        self.reason = ""
        self._since: float | None = None  # when the current disagreement with ``suspended`` began
        self.stalled = False  # the picture is frozen
        self._last_digest: int | None = None
        self._same_since = 0.0
        self._judged_at: float | None = None  # media time of the last frame judged

    def judge(self, image: np.ndarray) -> SceneVerdict:
        """This frame alone against the learnt view (learning it first)."""
        grey = _grey(image)
        if float(grey.std()) < self.cfg.min_contrast:
            return SceneVerdict(False, Msg("view blocked: the picture is nearly uniform (covered lens, no video)"))
        if self.reference is None:
            self._learning.append(grey)
            if len(self._learning) >= self.cfg.learn_frames:
                self.reference = np.median(np.stack(self._learning), axis=0).astype(np.float32)
                self.reference_edges = _edges(self.reference)
                self.reference_sharpness = _sharpness(self.reference)
                self._learning.clear()
            return SceneVerdict(True, "")
        sharpness = _sharpness(grey)
        if sharpness < self.cfg.min_sharpness * self.reference_sharpness:
            learnt = self.reference_sharpness
            return SceneVerdict(False, Msg("view blurred: sharpness {now} against {learnt}", now=round(sharpness),
                                              learnt=round(learnt)))
        similarity = _correlation(self.reference_edges, _edges(grey))
        (dx, dy), _ = cv2.phaseCorrelate(self.reference, grey)
        shift = max(abs(dx) / THUMB[0], abs(dy) / THUMB[1])
        if similarity < self.cfg.min_similarity or shift > self.cfg.max_shift:
            return SceneVerdict(False, Msg("view moved: edge similarity {similarity}, shift {shift} of the frame",
                                              similarity=f"{similarity:.2f}", shift=f"{shift:.0%}"))
        return SceneVerdict(True, "")

    @property
    def paused(self) -> bool:
        """No analysis now: suspended, or a change seen and not yet confirmed (so that nothing
        is decided on a view that may be wrong while the guard makes sure)."""
        return self.suspended or self._since is not None

    def frozen(self, t: float, image: np.ndarray) -> bool:
        """The stream delivers the very same picture (a hung encoder) for ``frozen_s``; a live
        sensor's noise never gives two bit-identical frames for long."""
        digest = hash(np.ascontiguousarray(image[::4, ::4]).tobytes())
        if digest != self._last_digest:
            self._last_digest, self._same_since = digest, t
            return False
        return t - self._same_since >= self.cfg.frozen_s

    def check(self, t: float, image: np.ndarray) -> bool | None:
        """Judge a sampled frame at media time ``t``. Returns True when the zones have just been
        suspended, False when they have just resumed, None when nothing changed."""
        if not self.cfg.enabled:
            return None
        if self._judged_at is not None and 0 <= t - self._judged_at < self.cfg.every_s:
            return None  # judged a moment ago: the state holds (a looped or restarted source goes back in time)
        self._judged_at = t
        stalled = self.frozen(t, image)
        if stalled != self.stalled:
            self.stalled = stalled
            self.reason = Msg("picture frozen: the stream sends the same frame") if stalled else ""
            self._since = None
            if stalled != self.suspended:
                self.suspended = stalled
                return stalled
            return None
        if self.stalled:
            return None
        verdict = self.judge(image)
        if verdict.ok != self.suspended:  # agrees with the current state
            self._since = None
            return None
        if self._since is None:
            self._since = t
            self._pending_reason = verdict.reason
        if t - self._since < self.cfg.confirm_s:
            return None
        self._since = None
        self.suspended = not verdict.ok
        self.reason = self._pending_reason if self.suspended else ""
        return self.suspended
