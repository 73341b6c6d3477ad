"""Picks the frames to analyse: at most ``sample_fps`` per second of media time, or, with an
``idle_fps``, that lower rate while nothing a zone cares about is in view (``follow``).

Samples keep a steady grid; a keyframe that comes at (or just before) a due time is taken and
the grid goes on from it. A stream's GOP is usually a whole number of sample intervals (a 2 s
GOP at 1 sample/s), so the samples stay on the keyframes and halfway between, and the rest of
each GOP need not be decoded (``edge.source.KeyframeGate``); without this a camera at 29.97 fps,
whose "2 s" GOP is 2.002 s, would drift off its keyframes within a minute. A keyframe that
comes just after a sample that was not one (within a quarter interval: the grid sits just
before the keyframes, as a live stream's first frames, arriving late and then in a burst,
can set it) moves the grid onto it: the next sample one interval after the keyframe, so one
interval grows by less than a quarter and the samples are on the keyframes from then on.
"""

from __future__ import annotations

KEYFRAME_EARLY = 0.05  # a keyframe this share of an interval before the due time is taken for it
KEYFRAME_LATE = 0.25  # a keyframe this share of an interval after a sample (not one) moves the grid


class Sampler:
    def __init__(self, sample_fps: float, idle_fps: float | None = None) -> None:
        if sample_fps <= 0 or (idle_fps is not None and not 0 < idle_fps <= sample_fps):
            raise ValueError("sample_fps must be positive, and idle_fps between 0 and sample_fps")
        self.busy_interval_s = 1.0 / sample_fps
        self.idle_interval_s = 1.0 / idle_fps if idle_fps else self.busy_interval_s
        self.interval_s = self.busy_interval_s  # start attentive: the first samples learn the view
        self._next_due: float | None = None
        self._last: float | None = None
        self._last_was_key = False

    def due(self, time_s: float, keyframe: bool = False) -> bool:
        """True when the frame at ``time_s`` (a keyframe, or not) should be analysed."""
        early = KEYFRAME_EARLY * self.interval_s if keyframe else 1e-6
        if self._next_due is None or time_s >= self._next_due - early:
            # Keep a steady grid; after a gap, or from a keyframe, restart from this frame.
            if self._next_due is None or keyframe or time_s - self._next_due > self.interval_s:
                self._next_due = time_s + self.interval_s
            else:
                self._next_due += self.interval_s
            self._last, self._last_was_key = time_s, keyframe
            return True
        if keyframe and not self._last_was_key and self._last is not None \
                and time_s - self._last < KEYFRAME_LATE * self.interval_s:
            self._next_due = time_s + self.interval_s  # onto the keyframes (see the module's text)
        return False

    def follow(self, busy: bool) -> None:
        """After a sample: look at the full rate while the zones have something (an object of
        their classes inside, a candidate or an open violation), at the idle rate otherwise."""
        interval = self.busy_interval_s if busy else self.idle_interval_s
        if interval != self.interval_s and self._last is not None:
            self._next_due = self._last + interval  # the new pace from the sample just taken
        self.interval_s = interval

    def wait_s(self, time_s: float) -> float:
        """Seconds from ``time_s`` (the sample just taken) until the next is due."""
        return (self._next_due if self._next_due is not None else time_s) - time_s

    @property
    def idle(self) -> bool:
        return self.interval_s > self.busy_interval_s
