"""Reusing detections where a camera's zones did not change (edge/unchanged.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from builders import camera_config, zone_config
from builders import detections_of as dets

from edge.config import EdgeConfig, UnchangedConfig
from edge.detections import COCO_NAMES, Detections
from edge.detector import YoloDetector
from edge.replay import replay_video
from edge.unchanged import UnchangedGate

CAR = COCO_NAMES.index("car")


class Counting:
    """A detector that counts its calls (the real model, or a fixed answer)."""

    def __init__(self, model: YoloDetector | None = None) -> None:
        self.model = model
        self.class_names = model.class_names if model else list(COCO_NAMES)
        self.calls = 0

    def detect(self, image: np.ndarray) -> Detections:
        self.calls += 1
        return self.model.detect(image) if self.model else dets(((10.0, 300.0, 60.0, 340.0), CAR))


def frame(noise_seed: int, person_at: tuple[int, int] | None = None) -> np.ndarray:
    """A grey street with sensor noise (±3 levels); optionally a dark figure at ``person_at``."""
    rng = np.random.default_rng(noise_seed)
    image = np.clip(120 + rng.integers(-3, 4, (480, 640, 3)), 0, 255).astype(np.uint8)
    if person_at is not None:
        x, y = person_at
        image[y:y + 60, x:x + 20] = 30
    return image


def test_the_model_sees_a_frame_only_where_a_zone_changed() -> None:
    gate = UnchangedGate(UnchangedConfig(enabled=True, max_reuse_s=10.0), [zone_config()])  # the lower half
    detector = Counting()
    first = gate.detect(0.0, frame(0), detector.detect)
    for i in range(1, 10):  # the same street, sensor noise only: the first detections stand
        assert gate.detect(i * 0.5, frame(i), detector.detect) is first
    assert detector.calls == 1
    gate.detect(5.0, frame(20, person_at=(300, 100)), detector.detect)  # someone above the zone: no change in it
    assert detector.calls == 1
    gate.detect(5.5, frame(21, person_at=(300, 350)), detector.detect)  # in the zone: the model looks
    assert detector.calls == 2
    gate.detect(20.0, frame(22, person_at=(300, 350)), detector.detect)  # unchanged, but 10 s since the model saw it
    assert detector.calls == 3
    assert (gate.inferred, gate.reused) == (3, 10)
    off = UnchangedGate(UnchangedConfig(enabled=False), [zone_config()])
    for i in range(5):
        off.detect(i * 0.5, frame(0), detector.detect)
    assert detector.calls == 8


def test_edited_zones_send_the_next_frame_to_the_model() -> None:
    gate = UnchangedGate(UnchangedConfig(enabled=True), [zone_config()])
    detector = Counting()
    gate.detect(0.0, frame(0), detector.detect)
    gate.use_zones([zone_config(polygon=[(0, 0), (1, 0), (1, 0.5), (0, 0.5)])])
    gate.detect(0.5, frame(1), detector.detect)
    assert detector.calls == 2


def test_reusing_detections_changes_no_decision_on_the_shared_clips(shared: Path) -> None:
    """The car park (cars and people coming and going: 20 events) and a road with a still
    stretch, with YOLO11n int8 at 320: the same events, to the timestamp, with and without the
    gate; on the road the model runs about half as often. (With YOLOv8n int8 at 640 on the
    car park, reuse moved some rests' starts by a few samples: the gate is off by default.)"""
    model = YoloDetector(shared / "models/yolo11n-coco-int8-320.onnx")
    start = datetime(1970, 1, 1, tzinfo=UTC)
    zone = zone_config(polygon=[(0, 0.3), (1, 0.3), (1, 1), (0, 1)], classes=["car", "bicycle", "truck", "bus"],
                       dwell_s=5, clear_s=5)
    runs = {}
    for clip in ("carpark-320x240.mp4", "road-cars-768x432.mp4"):
        for enabled in (False, True):
            camera = camera_config(zone, url=str(shared / "media/clips" / clip), sample_fps=2,
                                   unchanged={"enabled": enabled})
            config = EdgeConfig.model_validate({"edge_id": "box", "model": {"path": "m.onnx"},
                                                "cameras": [camera.model_dump()]})
            detector = Counting(model)
            events = [(e.violation_id, e.state, e.observed_at) for e in
                      replay_video(config, config.cameras[0], shared / "media/clips" / clip, start, detector)]
            runs[clip, enabled] = (events, detector.calls)
    assert len(runs["carpark-320x240.mp4", False][0]) >= 10
    for clip in ("carpark-320x240.mp4", "road-cars-768x432.mp4"):
        assert runs[clip, True][0] == runs[clip, False][0]
    assert runs["road-cars-768x432.mp4", True][1] <= 0.7 * runs["road-cars-768x432.mp4", False][1]
