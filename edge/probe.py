"""What a camera stream is: picture size, frame rate and keyframe interval, read off the
stream's packets (nothing decoded), for sizing and for `gridpatrol plan`."""

from __future__ import annotations

import itertools
import statistics
from dataclasses import dataclass

import av

from edge.source import SourceError, _open


@dataclass(frozen=True)
class StreamProfile:
    width: int
    height: int
    fps: float
    gop_s: float | None  # seconds between keyframes; None when fewer than two were seen
    bitrate_kbps: float | None = None  # what the camera sends, where the packets tell

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1e6

    def decoded_fps(self, sample_fps: float, decode: str) -> float:
        """Frames per second the edge decodes to sample ``sample_fps``, as
        ``edge.source.KeyframeGate`` decides: only keyframes where they come at least as often
        as samples are taken; else each GOP up to its last sample (the samples keep to the
        keyframes), and its keyframe: at 1 sample/s with a 2 s GOP, half the frames. A stream
        with B-frames is decoded whole, which the probe cannot tell: it counts as this."""
        keyframes_suffice = self.gop_s is not None and self.gop_s <= 1.05 / sample_fps
        if decode == "keyframes" or (decode == "auto" and keyframes_suffice):
            return 1.0 / self.gop_s if self.gop_s else sample_fps
        if decode == "auto" and self.gop_s:
            interval = 1.0 / sample_fps
            return min(self.fps, self.fps * (self.gop_s - interval) / self.gop_s + 1.0 / self.gop_s)
        return self.fps


def probe_stream(url: str, seconds: float = 8.0, open_timeout_s: float = 10.0) -> StreamProfile:
    """Read ``seconds`` of ``url``'s packets and tell its size, rate, keyframe interval and bitrate."""
    container = _open(url, open_timeout_s)
    try:
        if not container.streams.video:
            raise SourceError(f"{url} has no video stream")
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        fps = float(stream.average_rate or stream.guessed_rate or 0) or 25.0
        keys: list[float] = []
        start: float | None = None
        end = 0.0
        size = 0
        try:
            for packet in container.demux(stream):
                if packet.pts is None:
                    continue
                t = float(packet.pts * packet.time_base)
                start = t if start is None else start
                end = t
                size += packet.size
                if packet.is_keyframe:
                    keys.append(t)
                if t - start >= seconds:
                    break
        except (av.error.FFmpegError, OSError) as exc:
            raise SourceError(f"{url}: read failed: {exc}") from None
        if not width or not height:
            raise SourceError(f"{url}: the stream does not say its picture size")
        gaps = [b - a for a, b in itertools.pairwise(keys)]
        span = end - (start or 0.0)
        return StreamProfile(width, height, fps, statistics.median(gaps) if gaps else None,
                             size * 8 / span / 1000 if span > 0 else None)
    finally:
        container.close()
