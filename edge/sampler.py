"""Picks the frames to analyse: at most ``sample_fps`` per second of media time."""

from __future__ import annotations


class Sampler:
    def __init__(self, sample_fps: float) -> None:
        if sample_fps <= 0:
            raise ValueError("sample_fps must be positive")
        self.interval_s = 1.0 / sample_fps
        self._next_due: float | None = None

    def due(self, time_s: float) -> bool:
        """True when the frame at ``time_s`` should be analysed."""
        if self._next_due is None or time_s >= self._next_due - 1e-6:
            # Keep a steady grid; after a gap, restart from this frame.
            if self._next_due is None or time_s - self._next_due > self.interval_s:
                self._next_due = time_s + self.interval_s
            else:
                self._next_due += self.interval_s
            return True
        return False
