"""Video sources: files and RTSP/HTTP streams decoded with PyAV, reconnecting with backoff.

A source yields :class:`RawFrame` objects: the decoded frame stays in PyAV's format until
someone asks for its pixels, so frames the sampler skips cost no colour conversion.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from i18n import Msg

log = logging.getLogger(__name__)


class SourceError(RuntimeError):
    """The source cannot be opened or read."""


@dataclass
class RawFrame:
    time_s: float  # media time from the start of the source, seconds
    frame: av.VideoFrame
    # The connection's converter to BGR, kept from frame to frame: a frame's own builds a new
    # swscale context for every frame (0.17-0.24 ms of CPU a 640x360 frame here against 0.06).
    reformatter: VideoReformatter | None = None

    def to_bgr(self) -> np.ndarray:
        if self.reformatter is None:
            return self.frame.to_ndarray(format="bgr24")
        return self.reformatter.reformat(self.frame, format="bgr24").to_ndarray()

    @property
    def key(self) -> bool:
        """A keyframe: the sampler keeps its samples on them (edge/sampler.py)."""
        return bool(self.frame.key_frame)


def is_stream(url: str) -> bool:
    return url.split("://", 1)[0].lower() in ("rtsp", "rtsps", "rtmp", "http", "https", "udp", "tcp")


def _open(url: str, open_timeout_s: float) -> av.container.InputContainer:
    options: dict[str, str] = {}
    if url.lower().startswith(("rtsp://", "rtsps://")):
        options = {"rtsp_transport": "tcp", "timeout": str(int(open_timeout_s * 1e6))}
    elif not is_stream(url) and not Path(url).is_file():
        raise SourceError(f"video file not found: {url}")
    try:
        return av.open(url, options=options, timeout=open_timeout_s)
    except (av.error.FFmpegError, OSError) as exc:
        raise SourceError(f"cannot open {url}: {exc}") from None


class KeyframeGate:
    """Decides which packets of a stream need decoding at all.

    A frame of a compressed stream can only be decoded after the frames it refers to, back to
    the last keyframe. So when the sample interval is at least the keyframe interval, every
    sampled frame can be a keyframe and the packets between need not reach the decoder; and
    once a sample is taken whose successor is due no earlier than the next keyframe, the rest
    of the GOP need not either (at 1 sample/s with a 2 s GOP that halves the decoding). The
    gate measures the keyframe interval on the stream itself (the last two intervals) and
    takes the first shortcut only when ``sample_interval_s`` allows it (``mode`` ``auto``),
    always (``keyframes``) or never (``all``); the second in ``auto`` mode, when the consumer
    says when its next sample is due (:meth:`sampled`). Frames it spares are frames the
    sampler would not have taken: half a frame's slack where the next keyframe comes a little
    after the due time (a "2 s" GOP at 29.97 fps is 2.002 s), where no other frame lies."""

    def __init__(self, mode: str, sample_interval_s: float) -> None:
        self.mode = mode
        self.sample_interval_s = sample_interval_s
        self._last_key: float | None = None
        self._intervals: deque[float] = deque(maxlen=2)
        self.frame_s = 0.04  # one frame's duration (read_frames starts the gate with the stream's)
        self._last_time: float | None = None  # stream time of the last frame handed on
        self._next_due: float | None = None  # stream time the consumer's next sample is due
        self._reorders = False  # frames come out of order (B-frames): no skipping within a GOP

    def skip(self, is_keyframe: bool, time_s: float | None) -> bool:
        if self.mode == "all":
            return False
        if is_keyframe:
            if time_s is not None and self._last_key is not None:
                self._intervals.append(time_s - self._last_key)
            self._last_key = time_s
            return False
        return self.keyframes_only or self._rest_of_gop_unneeded()

    def start(self, frame_s: float) -> None:
        """A stream (or a file played again) begins: its times start afresh; the keyframe
        interval measured so far still holds."""
        self.frame_s = frame_s
        self._last_key = self._last_time = self._next_due = None

    def handed_on(self, time_s: float | None, reorders: bool) -> None:
        """A frame at stream time ``time_s`` goes to the consumer; ``reorders``: the decoder
        says the stream's frames come out of order."""
        self._last_time, self._reorders = time_s, reorders

    def sampled(self, wait_s: float) -> None:
        """The consumer took the frame last handed on as a sample; its next is due ``wait_s``
        seconds later."""
        if self._last_time is not None:
            self._next_due = self._last_time + wait_s

    def _rest_of_gop_unneeded(self) -> bool:
        if self.mode != "auto" or self._reorders or self._next_due is None or self._last_key is None \
                or not self._intervals:
            return False
        next_key = self._last_key + max(self._intervals)
        return self._next_due >= next_key - self.frame_s / 2

    @property
    def expects_keyframes(self) -> bool:
        """Whether this stream will most likely be decoded keyframe by keyframe (decided before
        the first packet, to pick the decoder's threading)."""
        return self.mode == "keyframes" or (self.mode == "auto" and self.sample_interval_s >= 1.0)

    @property
    def keyframes_only(self) -> bool:
        if self.mode == "keyframes":
            return True
        # 5 % slack: a "2 s" GOP of 60 frames at 29.97 fps is 2.002 s
        return (self.mode == "auto" and len(self._intervals) >= 1
                and max(self._intervals) <= self.sample_interval_s * 1.05)


def decode_threads(streams: int) -> int:
    """Threads for each stream's decoder on a box that decodes ``streams`` streams at once: one
    where there are at least as many streams as cores (they keep the cores busy themselves, and
    a 640x360 H.264 frame took 0.43 ms of CPU on one thread, 0.50 ms on three), else 0
    (FFmpeg's own choice, for one large stream's latency)."""
    return 1 if streams >= (os.cpu_count() or 1) else 0


def read_frames(url: str, open_timeout_s: float = 10.0, gate: KeyframeGate | None = None,
                threads: int = 0) -> Iterator[RawFrame]:
    """Decode the frames of one connection to ``url`` until it ends or fails; with a
    ``gate``, only the packets it lets through. ``threads``: the decoder's (0: FFmpeg's choice)."""
    container = _open(url, open_timeout_s)
    try:
        if not container.streams.video:
            raise SourceError(f"{url} has no video stream")
        stream = container.streams.video[0]
        # Frame threading decodes several frames at once, each a frame late per thread: right
        # for every frame of a stream, wrong for keyframes alone (a 1080p keyframe took 36 ms
        # of CPU with it, 28.5 ms without, and came out a keyframe or two later).
        if threads:
            stream.codec_context.thread_count = threads
        else:
            stream.thread_type = "SLICE" if gate is not None and gate.expects_keyframes else "AUTO"
        first_pts: float | None = None
        fallback_step = 1.0 / float(stream.average_rate or 25)
        if gate is not None:
            gate.start(fallback_step)
        time_base = float(stream.time_base or 0)
        index = 0
        reformatter = VideoReformatter()
        try:
            for packet in container.demux(stream):
                if gate is not None and packet.pts is not None and gate.skip(packet.is_keyframe,
                                                                               packet.pts * time_base):
                    index += 1
                    continue
                for frame in packet.decode():
                    if frame.time is None:
                        t = index * fallback_step
                    else:
                        if first_pts is None:
                            first_pts = float(frame.time)
                        t = float(frame.time) - first_pts
                    index += 1
                    if gate is not None:  # in the packets' time, as skip() is asked
                        gate.handed_on(None if frame.time is None else float(frame.time),
                                       bool(stream.codec_context.has_b_frames))
                    yield RawFrame(t, frame, reformatter)
        except (av.error.FFmpegError, OSError) as exc:
            raise SourceError(f"{url}: read failed: {exc}") from None
    finally:
        container.close()


@dataclass
class Backoff:
    """Waits between reconnection attempts. A camera's stream is retried at least every 8 s:
    one that comes back is analysed again within about 10 s (8 s and the time to open it),
    and a dead camera costs its box one refused connection per 8 s."""

    initial_s: float = 1.0
    maximum_s: float = 8.0
    factor: float = 2.0

    def delays(self) -> Iterator[float]:
        delay = self.initial_s
        while True:
            yield delay
            delay = min(delay * self.factor, self.maximum_s)


StatusCallback = Callable[[str, str], None]  # (status, reason)


class CameraSource:
    """Frames from one camera; a live stream is reopened with backoff when it drops.

    Media time keeps counting across reconnects: a live source's frame time is the wall
    clock since the source started, so a gap in the stream is a gap in time too.
    """

    def __init__(
        self,
        url: str,
        *,
        backoff: Backoff | None = None,
        on_status: StatusCallback | None = None,
        stop: Callable[[], bool] = lambda: False,
        open_timeout_s: float = 10.0,
        on_reconnect: Callable[[], object] | None = None,
        loop: bool = False,
        gate: Callable[[], KeyframeGate] | None = None,
        threads: int = 0,
    ) -> None:
        self.url = url
        self.loop = loop
        self.gate = gate or (lambda: KeyframeGate("all", 0.0))  # a new gate per connection
        self._gate: KeyframeGate | None = None  # the one deciding now
        self.threads = threads
        self.live = is_stream(url)
        self.backoff = backoff or Backoff()
        self.on_status = on_status or (lambda status, reason: None)
        self.stop = stop
        self.open_timeout_s = open_timeout_s
        self.reconnects = 0
        self.on_reconnect = on_reconnect or (lambda: None)

    def sampled(self, wait_s: float) -> None:
        """The frame just handed on was taken as a sample, the next is due ``wait_s`` later:
        what lies between that the sampler would not take need not be decoded."""
        if self._gate is not None:
            self._gate.sampled(wait_s)

    def frames(self) -> Iterator[RawFrame]:
        if not self.live:
            offset, self._gate = 0.0, self.gate()  # one stream, however often it is played
            while True:  # a file plays once, or again and again as a camera that never ends
                last = 0.0
                for raw in read_frames(self.url, self.open_timeout_s, self._gate, self.threads):
                    last = raw.time_s
                    raw.time_s += offset
                    yield raw
                if not self.loop or self.stop():
                    return
                offset += last + 1e-3
        started = time.monotonic()
        delays = self.backoff.delays()
        online = False
        while not self.stop():
            try:
                self._gate = self.gate()
                for raw in read_frames(self.url, self.open_timeout_s, self._gate, self.threads):
                    if not online:
                        online = True
                        delays = self.backoff.delays()
                        self.on_status("online", Msg("stream opened"))
                    raw.time_s = time.monotonic() - started
                    yield raw
                    if self.stop():
                        return
                reason = Msg("stream ended")
            except SourceError as exc:
                reason = str(exc)
            if online:
                online = False
                self.on_status("offline", reason)
            delay = next(delays)
            log.warning("camera source %s: %s; reconnecting in %.1fs", self.url, reason, delay)
            self.reconnects += 1
            self.on_reconnect()
            end = time.monotonic() + delay
            while time.monotonic() < end and not self.stop():
                time.sleep(min(0.2, end - time.monotonic()))
