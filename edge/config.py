"""The edge box's config: validated pydantic models loaded from YAML.

Relative paths are taken from the working directory (like the example configs, which are
run from the repository root); ``${VAR:-default}`` expands from the environment.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from contract.configfile import TimeZoneName, load_config
from contract.events import Identifier
from contract.mqtt import MqttConfig
from contract.zones import ActiveWindow, ZoneConfig, require_unique_ids
from contract.zonetest import MAX_TEST_MINUTES
from edge.retention import Retention
from edge.sampler import Sampler
from i18n import DEFAULT_LOCALE, Locale

__all__ = ["ActiveWindow", "CameraConfig", "EdgeConfig", "ZoneConfig", "load_edge_config"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelConfig(_Strict):
    path: Path
    class_names: list[str] | None = Field(
        default=None, description="Overrides the names stored in the model's metadata"
    )
    confidence: float = Field(default=0.25, gt=0.0, lt=1.0)
    nms_iou: float = Field(default=0.45, gt=0.0, lt=1.0)
    providers: list[str] = Field(default_factory=lambda: ["CPUExecutionProvider"], min_length=1)
    threads: int = Field(
        default=0, ge=0,
        description="Intra-op threads per inference call; 0: 1 on the CPU provider (calls run side by side, "
                    "see workers), ONNX Runtime's choice on others",
    )
    workers: int = Field(
        default=0, ge=0, le=64,
        description="Inference calls running at once; 0: one per core on the CPU provider, 1 on others",
    )
    format: Literal["auto", "ultralytics", "yolox"] = Field(
        default="auto", description="Output layout; auto tells Ultralytics and YOLOX apart by shape"
    )
    fp16: bool = Field(
        default=False, description="Half precision on TensorRT and OpenVINO; for CUDA use a model written by "
                                   "models/fp16.py",
    )
    spin: bool = Field(
        default=False, description="Let ONNX Runtime's threads busy-wait between runs (faster alone, slower beside "
                                   "decoding cameras)",
    )
    batch: int = Field(
        default=1, ge=1, le=64,
        description="Most frames of different cameras in one inference call (needs a model that takes that "
                    "batch: exported with dynamic=True, or rewritten by models/rebatch.py)",
    )
    batch_wait_ms: float = Field(
        default=5.0, ge=0.0, le=1000.0, description="How long a first frame waits for others to join its batch"
    )

    def on_cpu(self) -> bool:
        """Whether inference runs on the CPU provider (what is installed decides; the CPU is
        always there)."""
        import onnxruntime as ort

        available = set(ort.get_available_providers())
        return [p for p in self.providers if p in available][:1] in ([], ["CPUExecutionProvider"])

    def inference_plan(self) -> tuple[int, int]:
        """(intra-op threads per call, calls at once). On the CPU a small detector uses a core
        better alone than split across cores: one single-threaded call per core ran YOLO11n
        at 90 inferences/s here where one call on both cores ran 58."""
        cpu = self.on_cpu()
        threads = self.threads or (1 if cpu else 0)
        if self.workers:
            return threads, self.workers
        return threads, max(1, (os.cpu_count() or 1) // max(threads, 1)) if cpu else 1


class SceneConfig(_Strict):
    """The scene guard (edge/scene.py): when the view stops fitting the zones, they are suspended."""

    enabled: bool = True
    learn_frames: int = Field(default=5, ge=1, description="Sampled frames averaged into the learnt view")
    confirm_s: float = Field(default=10.0, ge=0, description="How long a change (or its end) must last")
    min_similarity: float = Field(default=0.5, gt=0, lt=1, description="Edge correlation below this: moved")
    max_shift: float = Field(default=0.04, gt=0, lt=1, description="Shift (share of the width) beyond this: moved")
    min_contrast: float = Field(default=6.0, ge=0, description="Grey-level spread below this: blocked")
    min_sharpness: float = Field(default=0.25, gt=0, lt=1, description="Share of the learnt sharpness: blurred")
    frozen_s: float = Field(default=60.0, gt=0, description="The same picture, to the bit, this long: stalled")
    every_s: float = Field(default=2.0, ge=0, le=60,
                           description="A sampled frame is judged at most this often (0: every one); the zones' "
                           "state holds in between. A change is confirmed after confirm_s all the same, "
                           "noticed up to every_s later")


class UnchangedConfig(_Strict):
    """Reusing detections (edge/unchanged.py): a sampled frame whose zones look as they did in
    the last frame the model saw gets that frame's detections instead of a new inference.
    Off by default: the model's answer to a frame that changed a little differs from its
    answer to the last one (a flickering int8 model most of all), so reuse can move a rest's
    start by a sample or two; on the car park clip with YOLOv8n int8 it did."""

    enabled: bool = False
    level: int = Field(default=14, ge=1, le=255, description="A pixel changed when it differs by more grey levels")
    share: float = Field(default=0.002, gt=0.0, lt=1.0,
                         description="A zone changed when more than this share of its pixels did")
    max_reuse_s: float = Field(default=10.0, ge=0.0, le=300.0,
                               description="The model sees the camera at least this often all the same")


class CameraConfig(_Strict):
    id: Identifier
    url: str = Field(min_length=1, description="rtsp://, http(s):// or a video file path")
    detect_url: str | None = Field(
        default=None, min_length=1,
        description="The camera's substream (e.g. 640x360): detection, tracking and rules run on it, and url, "
        "the main stream, is decoded keyframe by keyframe for the evidence (snapshots, crops, before images). "
        "Unset: everything on url",
    )
    sample_fps: float = Field(default=2.0, gt=0.0, le=30.0)
    status_heartbeat_s: float = Field(
        default=60.0, gt=0, description="Repeat the camera's status with its last frame time this often",
    )
    idle_sample_fps: float | None = Field(
        default=None, gt=0.0, le=30.0,
        description="While no zone sees an object of its classes (nor holds a candidate or violation), sample "
        "at this lower rate; back to sample_fps at the first such object. Unset: always sample_fps",
    )
    enabled: bool = True
    loop: bool = Field(default=False, description="Play a video file again and again (a file as a test camera)")
    scene: SceneConfig = Field(default_factory=SceneConfig)
    unchanged: UnchangedConfig = Field(default_factory=UnchangedConfig)
    decode: Literal["auto", "all", "keyframes"] = Field(
        default="auto",
        description="auto: decode only keyframes once the stream shows they come at least as often as the "
        "sample rate needs (e.g. a 2 s GOP at sample_fps 0.5); all: every frame; keyframes: only keyframes",
    )
    frame_size: tuple[int, int] | None = Field(
        default=None, description="Width, height; needed only where the source cannot tell (MOT replay)"
    )
    edge: Identifier | None = Field(
        default=None,
        description="The edge box that runs this camera, in a town config all boxes share "
        "(`gridpatrol edge run --edge-id`); `gridpatrol plan` proposes it",
    )
    zones: list[ZoneConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _idle_below_busy(self) -> CameraConfig:
        if self.idle_sample_fps is not None and self.idle_sample_fps > self.sample_fps:
            raise ValueError(f"idle_sample_fps ({self.idle_sample_fps}) must not exceed sample_fps ({self.sample_fps})")
        return self

    def sampler(self) -> Sampler:
        return Sampler(self.sample_fps, self.idle_sample_fps)

    @field_validator("zones")
    @classmethod
    def _unique_zones(cls, zones: list[ZoneConfig]) -> list[ZoneConfig]:
        require_unique_ids("zone", [z.id for z in zones])
        return zones


class TrackingConfig(_Strict):
    """How a detection becomes a stationary object. Defaults suit 1-10 samples per second."""

    match_iou: float = Field(default=0.3, gt=0.0, lt=1.0, description="Frame-to-frame association")
    track_max_gap_s: float = Field(default=3.0, gt=0.0, description="A track survives this long unseen")
    still_tolerance: float = Field(
        default=0.15, gt=0.0, lt=1.0,
        description="A still object's centre moves less than this fraction of its box size",
    )
    still_min_px: float = Field(default=1.0, ge=0.0, description="Jitter allowed on tiny boxes, pixels")
    still_min_observations: int = Field(default=3, ge=2)
    still_min_s: float = Field(default=1.5, ge=0.0, description="An object is still after this long in place")
    still_max_drift: float = Field(
        default=0.5, gt=0.0,
        description="A still object's steady drift over its last still_min_s (line fit of centre and size), "
        "as a share of the stillness tolerance; a far vehicle creeping toward the camera is no rest",
    )
    still_min_presence: float = Field(
        default=0.5, ge=0.0, le=1.0,
        description="Share of the samples since it came to rest in which an object must be seen to be still",
    )
    min_presence: float = Field(
        default=0.5, ge=0.0, le=1.0,
        description="Share of the samples since a spot was found in which it must be seen to open",
    )
    spot_iou: float = Field(default=0.3, gt=0.0, lt=1.0, description="A still object is at a known spot")
    rejoin_s: float = Field(
        default=30.0, ge=0.0, le=3600.0,
        description="A still object that would open a violation where one of the zone was cleared less than "
        "this long ago continues that violation (an updated event, the same violation id): a stop is one "
        "violation though the detector missed the object for a while; 0 turns this off",
    )
    rejoin_distance: float = Field(
        default=2.0, ge=0.0, le=10.0,
        description="How near, in box sizes between centres, a still object must be to a recently cleared "
        "violation to continue it (it edged forward while missed); boxes overlapping by spot_iou always are",
    )


BlurMode = Literal["none", "heads", "people"]  # see edge/privacy.py


class EvidenceConfig(_Strict):
    dir: Path = Path("var/edge/evidence")
    jpeg_quality: int = Field(default=85, ge=30, le=100)
    upload_url: str | None = Field(
        default=None, description="Dispatcher evidence endpoint; unset keeps file:// URLs"
    )
    upload_token: str | None = None
    upload_wait_s: float = Field(
        default=10.0, ge=0, le=600,
        description="How long an event waits for its images' upload when the evidence store is down; then it goes "
        "without waiting and its images follow when the store is back",
    )
    max_age_days: float | None = Field(default=30.0, gt=0, description="Delete older evidence (unset: keep)")
    max_mb: float | None = Field(default=None, gt=0, description="Keep at most this much evidence, oldest out")
    min_free_mb: float = Field(default=100.0, ge=0, description="Prune oldest evidence to keep this much disk free")
    prune_every_s: float = Field(default=60.0, gt=0)
    blur: BlurMode = Field(
        default="none",
        description="Pixelate people in stored images (snapshots and before images): heads, or whole people",
    )
    blur_plates: bool = Field(
        default=False, description="Pixelate where licence plates are on each plated vehicle in stored images",
    )
    plate_classes: list[str] | None = Field(
        default=None,
        description="The model's classes that carry plates; unset: car, motorcycle, bus and truck, "
        "those of them the model has (add a custom model's e-bike class here)",
    )
    caption_font: Path | None = Field(
        default=None, description="A font with CJK glyphs for the captions; unset: the first installed of "
        "WenQuanYi Micro Hei and Noto Sans CJK (Debian fonts-wqy-microhei, fonts-noto-cjk)",
    )

    def retention(self) -> Retention:
        return Retention(
            max_age_s=self.max_age_days * 86400 if self.max_age_days else None,
            max_bytes=int(self.max_mb * 1e6) if self.max_mb else None,
            min_free_bytes=int(self.min_free_mb * 1e6),
        )


class MetricsConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=9108, ge=0, le=65535,
                      description="Prometheus /metrics and the box's /healthz; 0 picks a free port")


class ZoneTestConfig(_Strict):
    """What each camera keeps of its recent past for trying zones from the console
    (edge/recent.py, edge/zonetest.py)."""

    keep_min: float = Field(default=10.0, ge=0, le=MAX_TEST_MINUTES,
                            description="Minutes of samples kept per camera; 0: zone tests are refused")
    thumbnail_every_s: float = Field(default=5.0, ge=1.0, le=60.0,
                                     description="A small picture this often, shown with what a test found")


class OutboxConfig(_Strict):
    path: Path = Path("var/edge/outbox.sqlite")
    max_healthy: int = Field(default=1000, ge=1, le=10_000_000,
                             description="More events than this waiting: /healthz says the box is unavailable")


class EdgeConfig(_Strict):
    edge_id: Identifier
    timezone: TimeZoneName = Field(default="Asia/Shanghai", description="For the zones' active hours and the "
                                   "local time in the evidence captions")
    locale: Locale = Field(default=DEFAULT_LOCALE, description="The language of the evidence captions: zh-CN or en")
    model: ModelConfig
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    cameras: list[CameraConfig] = Field(min_length=1)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    evidence: EvidenceConfig = Field(default_factory=EvidenceConfig)
    outbox: OutboxConfig = Field(default_factory=OutboxConfig)
    metrics: MetricsConfig | None = Field(default=None, description="Serve Prometheus metrics when set")
    zone_test: ZoneTestConfig = Field(default_factory=ZoneTestConfig)

    @field_validator("cameras")
    @classmethod
    def _unique_cameras(cls, cameras: list[CameraConfig]) -> list[CameraConfig]:
        require_unique_ids("camera", [c.id for c in cameras])
        return cameras

    @field_validator("cameras")
    @classmethod
    def _all_or_none_assigned(cls, cameras: list[CameraConfig]) -> list[CameraConfig]:
        unassigned = [c.id for c in cameras if c.edge is None]
        if unassigned and len(unassigned) < len(cameras):
            raise ValueError(f"cameras {', '.join(unassigned)} have no `edge` while others have one: in a town "
                             "config every camera names its box (gridpatrol plan proposes them)")
        return cameras

    def boxes(self) -> list[str]:
        """The edge boxes a town config assigns cameras to (none in a one-box config)."""
        return sorted({c.edge for c in self.cameras if c.edge is not None})

    def for_box(self, edge_id: str | None) -> EdgeConfig:
        """This config as edge box ``edge_id`` runs it: its own id and, in a town config, only the
        cameras assigned to it. ``None`` keeps the config's own ``edge_id``."""
        box = edge_id or self.edge_id
        boxes = self.boxes()
        if not boxes:
            return self.model_copy(update={"edge_id": box})
        mine = [c for c in self.cameras if c.edge == box]
        if not mine:
            raise ValueError(f"no cameras are assigned to edge box {box!r} (boxes named: {', '.join(boxes)})")
        return self.model_copy(update={"edge_id": box, "cameras": mine})

    def camera(self, camera_id: str) -> CameraConfig:
        for camera in self.cameras:
            if camera.id == camera_id:
                return camera
        known = ", ".join(c.id for c in self.cameras)
        raise KeyError(f"no camera {camera_id!r} in the config (known: {known})")


def load_edge_config(path: str | Path) -> EdgeConfig:
    return load_config(EdgeConfig, path)
