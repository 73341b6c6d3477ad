"""A camera's main stream beside the substream it detects on: the evidence's pictures.

IP cameras (Hikvision, Dahua, Uniview; GB/T 28181 platforms) send a small substream beside the
main one. A camera that names its substream (``detect_url``) is detected, tracked and decided
on that; its main stream (``url``) is decoded keyframe by keyframe only (a 1080p keyframe every
GOP, some 30 ms of CPU every 2 s) and its latest picture is taken as evidence when a decision
comes: the nearest keyframe at or before the deciding moment.

A file is read in step with the substream's media time (a replay, a test camera); a live stream
in its own thread, reconnecting with backoff, keeping only its latest picture.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

import numpy as np

from edge.source import CameraSource, KeyframeGate, RawFrame, SourceError

log = logging.getLogger(__name__)


def _keyframes() -> KeyframeGate:
    return KeyframeGate("keyframes", 0.0)


class MainStream:
    def __init__(self, url: str, *, stop: Callable[[], bool] = lambda: False, loop: bool = False,
                 open_timeout_s: float = 10.0, max_age_s: float = 10.0) -> None:
        self.url = url
        self.source = CameraSource(url, stop=stop, loop=loop, open_timeout_s=open_timeout_s, gate=_keyframes,
                                   on_status=self._status)
        self.max_age_s = max_age_s  # a live picture older than this is no evidence of now
        self._frames: Iterator[RawFrame] | None = None
        self._ahead: RawFrame | None = None  # a file's next keyframe, not yet due
        self._latest: RawFrame | None = None
        self._latest_at = 0.0  # time.monotonic() it came (live)
        self._image: np.ndarray | None = None  # the latest picture, converted once
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.keyframes = 0
        self.error: str | None = None

    @property
    def live(self) -> bool:
        return self.source.live

    def _status(self, state: str, reason: str) -> None:
        if state != "online":
            log.warning("main stream %s %s: %s; evidence from the substream meanwhile", self.url, state, reason)

    def start(self) -> None:
        """A live stream starts reading in its own thread; a file waits to be asked."""
        if self.live and self._thread is None:
            self._thread = threading.Thread(target=self._read, name=f"main-{self.url[-24:]}", daemon=True)
            self._thread.start()

    def _read(self) -> None:
        try:
            for raw in self.source.frames():
                with self._lock:
                    self._latest, self._latest_at, self._image = raw, time.monotonic(), None
                self.keyframes += 1
        except SourceError as exc:
            self.error = str(exc)
            log.error("main stream %s stopped: %s", self.url, exc)

    def at(self, t: float) -> np.ndarray | None:
        """The main stream's picture for the substream's media time ``t``: a file's last
        keyframe at or before ``t``; a live stream's latest keyframe, if it is recent. None
        when there is none (the stream is away, or not started)."""
        if self.live:
            with self._lock:
                if self._latest is None or time.monotonic() - self._latest_at > self.max_age_s:
                    return None
                return self._picture()
        if self._frames is None:
            self._frames = self.source.frames()
        try:
            while True:
                if self._ahead is None:
                    self._ahead = next(self._frames, None)
                    if self._ahead is None:
                        break
                    self.keyframes += 1
                if self._ahead.time_s > t:
                    break
                self._latest, self._ahead, self._image = self._ahead, None, None
        except SourceError as exc:
            self.error = str(exc)
            log.error("main stream %s: %s", self.url, exc)
            self._frames = iter(())
        return None if self._latest is None else self._picture()

    def _picture(self) -> np.ndarray:
        assert self._latest is not None
        if self._image is None:
            self._image = self._latest.to_bgr()
        return self._image


__all__ = ["MainStream"]
