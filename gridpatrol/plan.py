"""`gridpatrol plan`: which edge box runs which camera.

Each camera loads a box in two ways, measured by ``bench/edge_capacity.py --save-capacity``
on the box's hardware: inference (samples per second against the box's raw inference rate)
and decoding (megapixels decoded per second against the box's decode rate: every frame, or
only keyframes where they come often enough for the sample rate). The sum is the camera's
share of a box, plus, per analysed megapixel, what the benchmark's pipeline spent beyond
those two on the cameras it really handled, plus reading its live streams off the network
(``bench/stream_read.py``: the capacity benchmark's cameras are files, read for almost
nothing). A camera watching a shop front (a zone counting ``stationary_object``, for
cross-door trading) also runs the background model on every sample: what the benchmark's
run with such a zone (``--foreground``) spent beyond the plain one, per sample. Cameras
fill boxes in config order (neighbouring cameras share a box and its uplink) up to
``headroom`` of each box.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml
from pydantic import BaseModel, Field, ValidationError

from contract.configfile import ConfigError, first_error
from edge.config import EdgeConfig
from edge.foreground import FOREGROUND_CLASS
from edge.probe import StreamProfile
from edge.source import SourceError, is_stream


class MeasuredRun(BaseModel):
    """The pipeline's best run in the benchmark: this many cameras of this stream were handled."""

    cameras: int = Field(ge=1)
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    fps: float = Field(gt=0)
    gop_s: float | None = None
    sample_fps: float = Field(gt=0)
    decode: str = "auto"
    camera_ms_per_sample: float | None = Field(
        default=None, ge=0, description="CPU of the camera threads per analysed sample in that run (ms): "
        "decoding and the pipeline's own work, where a shop front's background model runs too")


class BoxCapacity(BaseModel):
    """One box's measured capacity (the JSON ``bench/edge_capacity.py --save-capacity`` writes)."""

    host: str
    cores: int = Field(ge=1)
    model: str
    inference_per_s: float = Field(gt=0, description="Raw ONNX Runtime inferences/s of the model on the box")
    decode_mpix_per_s: float = Field(gt=0, description="Megapixels/s the box decodes (all cores)")
    live_stream_cores: float = Field(
        default=0.0, ge=0, lt=1,
        description="Cores reading one live stream takes (RTSP over TCP; bench/stream_read.py); the "
        "capacity benchmark's cameras are files, which cost nothing like it")
    measured: MeasuredRun | None = None
    measured_foreground: MeasuredRun | None = Field(
        default=None, description="The same benchmark with its zone also counting new stationary things "
        "(--foreground): the background model of a shop front on every sample")

    def raw_load(self, stream: StreamProfile, sample_fps: float, decode: str = "auto") -> float:
        """A camera's share of the box by the two measured rates alone."""
        return (sample_fps / self.inference_per_s
                + stream.decoded_fps(sample_fps, decode) * stream.megapixels / self.decode_mpix_per_s)

    @property
    def per_sample_s(self) -> float:
        """What each analysed megapixel costs beyond inference and average-frame decoding
        (keyframe decoding, colour conversion, letterbox, tracking, rules, evidence), as a
        share of the box times seconds: what the measured run's cameras took beyond their raw
        load, per sample and megapixel. Those steps grow with the picture, so a smaller
        stream's samples cost less."""
        if self.measured is None:
            return 0.0
        m = self.measured
        stream = StreamProfile(m.width, m.height, m.fps, m.gop_s)
        extra = max(0.0, 1.0 / m.cameras - self.raw_load(stream, m.sample_fps, m.decode))
        return extra / (m.sample_fps * stream.megapixels)

    @property
    def foreground_s(self) -> float | None:
        """What a sample of a camera watching a shop front costs beyond a plain one (the
        background model, at its fixed working width whatever the stream's size), as a share
        of the box times seconds. Where both runs give their camera threads' CPU a sample,
        the difference of the two; else what the ``--foreground`` run's cameras took beyond
        the plain load of their stream, from the cameras handled (coarse: at 0.5 samples/s on
        1080p both runs here were held back by the lag before the cores were full, and one
        day's pair handled 40 plain cameras and 44 shop fronts). None where it was not
        measured."""
        m = self.measured_foreground
        if m is None:
            return None
        plain = self.measured
        if plain is not None and plain.camera_ms_per_sample is not None and m.camera_ms_per_sample is not None:
            return max(0.0, m.camera_ms_per_sample - plain.camera_ms_per_sample) / 1000 / self.cores
        stream = StreamProfile(m.width, m.height, m.fps, m.gop_s)
        return max(0.0, 1.0 / m.cameras - self.load(stream, m.sample_fps, m.decode)) / m.sample_fps

    @property
    def foreground_cpu_ms(self) -> float | None:
        """:attr:`foreground_s` as milliseconds of CPU a sample, as people read it."""
        return None if self.foreground_s is None else 1000 * self.cores * self.foreground_s

    def load(self, stream: StreamProfile, sample_fps: float, decode: str = "auto", live_streams: int = 0,
             foreground: bool = False) -> float:
        """A camera's share of the box; it reads ``live_streams`` streams off the network (two
        where it detects on a substream); with ``foreground`` it watches a shop front (nothing
        more where that was not measured: the planner says so)."""
        return (self.raw_load(stream, sample_fps, decode) + sample_fps * stream.megapixels * self.per_sample_s
                + live_streams * self.live_stream_cores / self.cores
                + (sample_fps * (self.foreground_s or 0.0) if foreground else 0.0))


def load_capacity(path: Path) -> BoxCapacity:
    try:
        return BoxCapacity.model_validate(json.loads(path.read_text()))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such capacity file (write one with bench/edge_capacity.py "
                          "--save-capacity)") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not JSON: {exc}") from None
    except ValidationError as exc:
        raise ConfigError(f"{path}: {first_error(exc)}") from None


@dataclass(frozen=True)
class PlannedCamera:
    id: str
    stream: StreamProfile  # the stream decoded and detected on: the substream where there is one
    sample_fps: float
    decode: str = "auto"
    live_streams: int = 0  # streams read off the network: the main one, and a substream
    main: StreamProfile | None = None  # the main stream, where a substream is detected on (only read)
    foreground: bool = False  # a zone counts new stationary things (a shop front): the background model runs

    @property
    def bitrate_kbps(self) -> float:
        """What the camera sends the box, both streams where it sends two; 0 where unknown."""
        return sum(s.bitrate_kbps or 0.0 for s in (self.stream, self.main) if s is not None)


@dataclass
class Box:
    id: str
    cameras: list[PlannedCamera] = field(default_factory=list)
    load: float = 0.0

    @property
    def inference_per_s(self) -> float:
        return sum(c.sample_fps for c in self.cameras)

    @property
    def bitrate_mbps(self) -> float:
        return sum(c.bitrate_kbps for c in self.cameras) / 1000


def plan(cameras: list[PlannedCamera], capacity: BoxCapacity, headroom: float = 0.8,
         prefix: str = "box-") -> list[Box]:
    """Boxes ``prefix``01, 02, ... each filled in camera order up to ``headroom`` of its capacity."""
    if not 0 < headroom <= 1:
        raise ValueError(f"headroom must be in (0, 1], got {headroom}")
    boxes: list[Box] = []
    for camera in cameras:
        share = capacity.load(camera.stream, camera.sample_fps, camera.decode, camera.live_streams,
                              camera.foreground)
        if share > headroom:
            raise ValueError(f"camera {camera.id} alone needs {share:.0%} of a box ({capacity.host}), over the "
                             f"{headroom:.0%} headroom: lower its sample_fps or use a bigger box")
        if not boxes or boxes[-1].load + share > headroom:
            boxes.append(Box(""))
        boxes[-1].cameras.append(camera)
        boxes[-1].load += share
    width = max(2, len(str(len(boxes))))
    for number, box in enumerate(boxes, 1):
        box.id = f"{prefix}{number:0{width}d}"
    return boxes


def cameras_per_box(capacity: BoxCapacity, stream: StreamProfile, sample_fps: float, headroom: float = 0.8,
                    decode: str = "auto", live_streams: int = 0, foreground: bool = False) -> int:
    return math.floor(headroom / capacity.load(stream, sample_fps, decode, live_streams, foreground) + 1e-9)


def town_cameras(config: EdgeConfig, assumed: StreamProfile,
                 probe: Callable[[str], StreamProfile] | None = None) -> list[PlannedCamera]:
    """The enabled cameras of a town config as the planner sees them: the stream detected on
    (``detect_url``, the substream, where given, else ``url``) as ``probe`` reads it off the
    camera, else ``assumed`` (with the camera's own ``frame_size`` if set); and how many of its
    streams are read live (RTSP and the like; a file is not)."""
    from gridpatrol.progress import counted

    found = []
    enabled = [c for c in config.cameras if c.enabled]
    for camera in counted(enabled, len(enabled), "cameras", "probing streams") if probe else enabled:
        main = None
        if probe is not None:
            try:
                stream = probe(camera.detect_url or camera.url)
                main = probe(camera.url) if camera.detect_url else None  # for the uplink: it is only read
            except SourceError as exc:
                raise ConfigError(f"camera {camera.id}: cannot probe its stream: {exc}") from None
        elif camera.frame_size is not None:
            stream = replace(assumed, width=camera.frame_size[0], height=camera.frame_size[1])
        else:
            stream = assumed
        live = sum(is_stream(url) for url in (camera.url, camera.detect_url) if url)
        shop_front = any(FOREGROUND_CLASS in zone.classes for zone in camera.zones)
        found.append(PlannedCamera(camera.id, stream, camera.sample_fps, camera.decode, live, main, shop_front))
    return found


def write_assignment(config_path: Path, boxes: list[Box], out: Path) -> None:
    """``config_path`` again, each planned camera with its box as ``edge`` (the file's other
    keys, and ``${VAR}`` placeholders, as they were; YAML comments are not kept)."""
    document = yaml.safe_load(config_path.read_text())
    box_of = {camera.id: box.id for box in boxes for camera in box.cameras}
    for camera in document["cameras"]:
        if camera["id"] in box_of:
            camera["edge"] = box_of[camera["id"]]
    out.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
