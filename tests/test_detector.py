"""The ONNX Runtime detector on the shared models and images."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnx_free_check  # noqa: F401  (see tests/onnx_free_check.py)
import pytest

from edge.config import ModelConfig
from edge.detector import ModelError, YoloDetector, letterbox, model_input


@pytest.mark.parametrize(("model", "layout"), [
    ("yolov8n-coco-int8-640.onnx", "ultralytics"),
    ("yolo11n-coco-int8-320.onnx", "ultralytics"),
    ("yolox-nano-coco-416.onnx", "yolox"),
])
def test_bus_image_finds_the_people_and_the_bus(shared: Path, model: str, layout: str) -> None:
    detector = YoloDetector.from_config(ModelConfig(path=shared / "models" / model))
    assert detector.format == layout
    assert detector.class_names[:4] == ["person", "bicycle", "car", "motorcycle"]
    assert len(detector.class_names) == 80
    image = cv2.imread(str(shared / "media/images/bus.jpg"))
    found = detector.detect(image)
    names = [detector.class_names[c] for c in found.class_id[found.confidence >= 0.5]]
    assert names.count("person") >= 3 and "bus" in names
    bus = found.xyxy[[detector.class_names[c] == "bus" for c in found.class_id]][0]
    h, w = image.shape[:2]
    assert 0 <= bus[0] < 100 and bus[2] > 0.9 * w and 0.2 * h < bus[1] < 0.35 * h  # boxes in frame pixels


def test_letterbox_maps_boxes_back_to_the_frame() -> None:
    image = np.zeros((240, 320, 3), np.uint8)
    boxed, box = letterbox(image, (640, 640))
    assert boxed.shape == (640, 640, 3) and box.scale == 2.0 and box.pad_y == 80
    back = box.to_frame(np.array([[0, 80, 640, 560]], np.float32))
    assert np.allclose(back, [[0, 0, 320, 240]])
    boxed, box = letterbox(image, (416, 416), centre=False)  # YOLOX: image at the top left
    assert box.pad_x == box.pad_y == 0 and (boxed[312:, :] == 114).all()


@pytest.mark.parametrize(("size", "centre"), [((320, 320), True), ((416, 416), False), ((640, 640), True)])
def test_the_model_input_is_the_letterboxed_blob_exactly(shared: Path, size: tuple[int, int], centre: bool) -> None:
    for name in ("bus.jpg", "road-motorbikes-1280x574.jpg"):  # a tall and a wide picture: padding on each side
        image = cv2.imread(str(shared / "media/images" / name))
        for scale, rgb in ((1 / 255.0, True), (1.0, False)):
            tensor, box = model_input(image, size, scale, rgb, centre=centre)
            boxed, expected_box = letterbox(image, size, centre=centre)
            assert box == expected_box and tensor.dtype == np.float32
            assert np.array_equal(tensor, cv2.dnn.blobFromImage(boxed, scale, swapRB=rgb))


def test_missing_model_and_wrong_class_names_are_clear_errors(shared: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="model file not found"):
        YoloDetector(tmp_path / "nope.onnx")
    with pytest.raises(ModelError, match="84 channels but 3 class names"):
        YoloDetector(shared / "models/yolo11n-coco-int8-320.onnx", class_names=["a", "b", "c"])
    with pytest.raises(ModelError, match="85 channels but 3 class names"):
        YoloDetector(shared / "models/yolox-nano-coco-416.onnx", class_names=["a", "b", "c"])
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="ONNX Runtime cannot load it"):
        YoloDetector(junk)
