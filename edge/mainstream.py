"""A camera's main stream beside the substream it detects on: the evidence's pictures.

IP cameras (Hikvision, Dahua, Uniview; GB/T 28181 platforms) send a small substream beside the
main one. A camera that names its substream (``detect_url``) is detected, tracked and decided
on that; of its main stream (``url``) only the keyframe packets are kept, still compressed,
and one is decoded when a picture is wanted: for a decision's evidence, the keyframe nearest
at or before the deciding moment. The camera's recent past holds keyframes still compressed
(:class:`HeldKeyframe`) and decodes one only for a before image. A keyframe decodes alone (a
1080p one in about 15-30 ms of CPU), so a camera whose zones decide nothing costs its box no
main-stream decoding at all, only the reading of its packets.

A file is read in step with the substream's media time (a replay, a test camera); a live stream
in its own thread, reconnecting with backoff, keeping only its latest keyframe.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

import av
import numpy as np

from edge.source import Backoff, SourceError, _open, is_stream

log = logging.getLogger(__name__)


class _Keyframes:
    """One connection's keyframe packets with their media times, and a decoder for them."""

    def __init__(self, url: str, open_timeout_s: float) -> None:
        self.container = _open(url, open_timeout_s)  # as the sources open theirs: RTSP over TCP, a timeout
        if not self.container.streams.video:
            self.container.close()
            raise SourceError(f"{url} has no video stream")
        self.stream = self.container.streams.video[0]
        # Only keyframes are wanted: a demuxer that can skip the others (a file's: the MP4 index
        # says which samples are key) then reads 30 packets a minute instead of 1,800 (0.08
        # instead of 0.24-0.34 ms of CPU a second of 1080p video here). A live stream's
        # demuxer receives every packet all the same, and packets() keeps only keyframes.
        self.stream.discard = av.stream.Discard.nonkey
        self.decoder = av.CodecContext.create(self.stream.codec_context.name, "r")
        if self.stream.codec_context.extradata:
            self.decoder.extradata = self.stream.codec_context.extradata
        self.decoder.thread_type = "SLICE"  # one frame at a time: frame threading would hold it back
        self.url = url
        self._first: float | None = None

    def packets(self) -> Iterator[tuple[float, av.Packet]]:
        """(media time from the stream's start, packet) of each keyframe."""
        try:
            for packet in self.container.demux(self.stream):
                if not packet.is_keyframe or packet.pts is None or not packet.size:
                    continue
                at = float(packet.pts * packet.time_base)
                if self._first is None:
                    self._first = at
                yield at - self._first, packet
        except (av.error.FFmpegError, OSError) as exc:
            raise SourceError(f"{self.url}: read failed: {exc}") from None

    def decode(self, packet: av.Packet) -> np.ndarray | None:
        try:
            frames = self.decoder.decode(packet)
            if not frames:  # the decoder held it back: drain, and ready it for the next one
                frames = self.decoder.decode(None)
                self.decoder.flush_buffers()
        except (av.error.FFmpegError, ValueError) as exc:
            log.warning("main stream %s: a keyframe did not decode: %s", self.url, exc)
            return None
        return frames[-1].to_ndarray(format="bgr24") if frames else None

    def close(self) -> None:
        self.container.close()


class MainStream:
    def __init__(self, url: str, *, stop: Callable[[], bool] = lambda: False, loop: bool = False,
                 open_timeout_s: float = 10.0, max_age_s: float = 10.0, backoff: Backoff | None = None) -> None:
        self.url = url
        self.live = is_stream(url)
        self.stop = stop
        self.loop = loop
        self.open_timeout_s = open_timeout_s
        self.max_age_s = max_age_s  # a live keyframe older than this is no picture of now
        self.backoff = backoff or Backoff()
        self._reader: _Keyframes | None = None
        self._packets: Iterator[tuple[float, av.Packet]] | None = None
        self._offset = 0.0  # a looped file's media time goes on
        self._ahead: tuple[float, av.Packet] | None = None  # a file's next keyframe, not yet due
        self._latest: tuple[float, av.Packet, _Keyframes] | None = None
        self._latest_at = 0.0  # time.monotonic() the latest keyframe came (live)
        self._picture: tuple[av.Packet, np.ndarray | None] | None = None  # the last one decoded
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.keyframes = 0  # keyframe packets seen
        self.decoded = 0  # of which decoded
        self.error: str | None = None

    def start(self) -> None:
        """A live stream starts reading in its own thread; a file waits to be asked."""
        if self.live and self._thread is None:
            self._thread = threading.Thread(target=self._read, name=f"main-{self.url[-24:]}", daemon=True)
            self._thread.start()

    def _read(self) -> None:
        delays = self.backoff.delays()
        while not self.stop():
            try:
                reader = _Keyframes(self.url, self.open_timeout_s)
            except SourceError as exc:
                self.error = str(exc)
                log.warning("main stream %s: %s; evidence from the substream meanwhile", self.url, exc)
                time.sleep(next(delays))
                continue
            delays = self.backoff.delays()
            try:
                for at, packet in reader.packets():
                    with self._lock:
                        self._latest, self._latest_at = (at, packet, reader), time.monotonic()
                    self.keyframes += 1
                    if self.stop():
                        return
            except SourceError as exc:
                self.error = str(exc)
                log.warning("main stream %s: %s; reconnecting", self.url, exc)
            finally:
                reader.close()  # its decoder stays, for the latest keyframe
            time.sleep(next(delays))

    def _advance(self, t: float) -> None:
        """A file: keyframe packets up to media time ``t`` (the last one kept)."""
        while True:
            if self._ahead is None:
                if self._packets is None:
                    self._reader = _Keyframes(self.url, self.open_timeout_s)
                    self._packets = self._reader.packets()
                nxt = next(self._packets, None)
                if nxt is None:
                    if not self.loop or self._latest is None:
                        return
                    self._offset = self._latest[0] + 1e-3  # played again, as a camera that never ends
                    if self._reader is not None:
                        self._reader.close()  # its decoder stays, for the latest keyframe
                    self._packets = None
                    continue
                self._ahead = (nxt[0] + self._offset, nxt[1])
                self.keyframes += 1
            if self._ahead[0] > t:
                return
            assert self._reader is not None
            self._latest, self._ahead = (self._ahead[0], self._ahead[1], self._reader), None

    def hold(self, t: float) -> HeldKeyframe | None:
        """The main stream's keyframe for the substream's media time ``t``, still compressed: a
        file's last keyframe at or before ``t``; a live stream's latest, if it is recent. None
        when there is none (the stream is away, or not started)."""
        with self._lock:
            if self.live:
                if self._latest is None or time.monotonic() - self._latest_at > self.max_age_s:
                    return None
            else:
                try:
                    self._advance(t)
                except SourceError as exc:
                    self.error = str(exc)
                    log.error("main stream %s: %s", self.url, exc)
                    self._packets, self._ahead = iter(()), None
                if self._latest is None:
                    return None
            _, packet, reader = self._latest
            return HeldKeyframe(packet, reader, self)

    def at(self, t: float) -> np.ndarray | None:
        """The main stream's picture for the substream's media time ``t`` (see :meth:`hold`),
        decoded now."""
        held = self.hold(t)
        return held() if held is not None else None

    def _decoded(self, packet: av.Packet, reader: _Keyframes) -> np.ndarray | None:
        """The picture of a keyframe packet; the last one is kept, for the decisions of the
        next samples until another keyframe comes (at 1 sample/s with a 2 s GOP, two samples
        share one). Only the camera's thread decodes, so no lock: the reader thread may go on
        meanwhile."""
        if self._picture is None or self._picture[0] is not packet:
            self._picture = (packet, reader.decode(packet))
            self.decoded += 1
        return self._picture[1]


class HeldKeyframe:
    """A main-stream keyframe kept compressed (some 100-300 kB at 1080p) and decoded only when
    its picture is wanted: a camera's recent past holds these, so that a quiet camera decodes
    no main-stream picture at all."""

    def __init__(self, packet: av.Packet, reader: _Keyframes, stream: MainStream) -> None:
        self._packet, self._reader, self._stream = packet, reader, stream
        context = reader.stream.codec_context
        self.size = (context.width, context.height)  # the picture's, known before decoding
        self.nbytes = packet.size

    def __call__(self) -> np.ndarray | None:
        return self._stream._decoded(self._packet, self._reader)


__all__ = ["HeldKeyframe", "MainStream"]
