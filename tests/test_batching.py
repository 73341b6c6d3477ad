"""Frames of several cameras in one inference call: the rebatched model and the scheduler."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
from builders import assert_same_confident_objects

from edge.batching import BatchScheduler, SchedulerStopped
from edge.config import ModelConfig
from edge.detections import Detections
from edge.detector import ModelError, YoloDetector, provider_settings

IMAGES = ("bus.jpg", "zidane.jpg", "road-motorbikes-1280x574.jpg", "carpark-1920x1080.jpg")


@pytest.fixture(scope="module")
def images(shared: Path) -> list[np.ndarray]:
    return [cv2.imread(str(shared / "media/images" / name)) for name in IMAGES]


@pytest.fixture(scope="module")
def anybatch(shared: Path, project_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The shared models, rewritten by models/rebatch.py (its CLI, as a user runs it)."""
    out = tmp_path_factory.mktemp("anybatch")
    paths = {}
    for model in ("yolox-nano-coco-416", "yolo11n-coco-int8-320"):
        target = out / f"{model}-any.onnx"
        done = subprocess.run([sys.executable, str(project_root / "models/rebatch.py"),
                               str(shared / "models" / f"{model}.onnx"), str(target)],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "any batch" in done.stdout
        paths[model] = target
    return paths


def same(a: Detections, b: Detections) -> bool:
    return len(a) == len(b) and np.array_equal(a.class_id, b.class_id) and np.allclose(a.xyxy, b.xyxy, atol=1e-3)


def test_a_rebatched_fp32_model_gives_each_frame_of_a_batch_its_own_detections(
        shared: Path, anybatch: dict[str, Path], images: list[np.ndarray]) -> None:
    original = YoloDetector(shared / "models/yolox-nano-coco-416.onnx")
    copy = YoloDetector(anybatch["yolox-nano-coco-416"])
    assert original.fixed_batch == 1 and copy.fixed_batch is None
    assert copy.class_names == original.class_names  # the metadata came along
    one_by_one = [original.detect(image) for image in images]
    batched = copy.detect_batch(images)
    assert [len(d) for d in one_by_one] == [len(d) for d in batched] and all(len(d) for d in batched)
    assert all(same(a, b) for a, b in zip(one_by_one, batched, strict=True))


def test_a_rebatched_int8_model_finds_the_same_objects_in_a_batch(
        shared: Path, anybatch: dict[str, Path], images: list[np.ndarray]) -> None:
    # Dynamic int8 quantisation scales activations over the whole batch: boxes move a
    # little with the other frames, the objects found stay the same here.
    original = YoloDetector(shared / "models/yolo11n-coco-int8-320.onnx")
    batched = YoloDetector(anybatch["yolo11n-coco-int8-320"]).detect_batch(images)
    for image, got in zip(images, batched, strict=True):
        want = original.detect(image)
        assert sorted(want.class_id.tolist()) == sorted(got.class_id.tolist())


def test_a_fixed_batch_model_runs_a_batch_one_frame_at_a_time(shared: Path, images: list[np.ndarray]) -> None:
    detector = YoloDetector(shared / "models/yolox-nano-coco-416.onnx")
    assert all(same(a, b) for a, b in zip(detector.detect_batch(images), [detector.detect(i) for i in images],
                                          strict=True))


@pytest.mark.parametrize("workers", [1, 2])
def test_the_scheduler_batches_frames_of_cameras_waiting_together(
        anybatch: dict[str, Path], shared: Path, images: list[np.ndarray], workers: int) -> None:
    # workers 2: two single-threaded calls side by side, as on a 2-core CPU box
    detector = YoloDetector(anybatch["yolox-nano-coco-416"], threads=1 if workers > 1 else 0)
    reference = YoloDetector(shared / "models/yolox-nano-coco-416.onnx")
    scheduler = BatchScheduler(detector, max_batch=4, max_wait_s=0.05, workers=workers).start()
    results: dict[int, list[Detections]] = {}
    go = threading.Barrier(len(images))

    def camera(k: int) -> None:
        go.wait()
        results[k] = [scheduler.detect(images[k]) for _ in range(5)]

    threads = [threading.Thread(target=camera, args=(k,)) for k in range(len(images))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    scheduler.stop()
    assert scheduler.frames == 20
    assert scheduler.calls < 20  # frames of different cameras shared calls
    for k, image in enumerate(images):
        want = reference.detect(image)
        assert all(same(want, got) for got in results[k]), k


def test_the_scheduler_runs_a_prepared_frame_and_hands_back_the_raw_output(
        shared: Path, images: list[np.ndarray]) -> None:
    # what the capacity benchmark's bare box sends: the model input, no pre- or postprocessing
    detector = YoloDetector(shared / "models/yolo11n-coco-int8-320.onnx", threads=1)
    scheduler = BatchScheduler(detector, workers=2).start()
    try:
        tensor, _ = detector.preprocess(images[0])
        raw = scheduler.infer(tensor)
        assert raw.shape == tuple(detector.session.get_outputs()[0].shape[1:])
        assert np.array_equal(raw, detector.infer(tensor)[0])
    finally:
        scheduler.stop()
    with pytest.raises(SchedulerStopped):
        scheduler.infer(tensor)


def test_a_frame_whose_candidates_fail_raises_in_its_camera_and_the_box_goes_on(
        shared: Path, images: list[np.ndarray]) -> None:
    # the inference thread picks each output's candidates; an error there reaches the camera
    # that sent the frame, and the thread lives on for the next
    class Refusing(YoloDetector):
        refuse = True

        def candidates(self, raw: np.ndarray):
            if self.refuse:
                raise ValueError("output refused")
            return super().candidates(raw)

    detector = Refusing(shared / "models/yolo11n-coco-int8-320.onnx", threads=1)
    scheduler = BatchScheduler(detector, workers=1).start()
    try:
        with pytest.raises(ValueError, match="output refused"):
            scheduler.detect(images[0])
        detector.refuse = False
        assert same(YoloDetector(shared / "models/yolo11n-coco-int8-320.onnx").detect(images[0]),
                    scheduler.detect(images[0]))
    finally:
        scheduler.stop()


def test_a_batch_beyond_what_the_model_takes_is_refused_naming_the_setting(shared: Path) -> None:
    detector = YoloDetector.from_config(ModelConfig(path=shared / "models/yolo11n-coco-int8-320.onnx", batch=4))
    with pytest.raises(ModelError, match=r"model.batch is 4 .* fixed batch of 1.*rebatch"):
        BatchScheduler(detector, max_batch=4)


def test_a_stopped_scheduler_says_so_instead_of_hanging(shared: Path, images: list[np.ndarray]) -> None:
    scheduler = BatchScheduler(YoloDetector(shared / "models/yolox-nano-coco-416.onnx")).start()
    assert len(scheduler.detect(images[0])) > 0
    scheduler.stop()
    with pytest.raises(SchedulerStopped):
        scheduler.detect(images[0])


def test_rebatch_names_a_missing_model(project_root: Path, tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(project_root / "models/rebatch.py"), str(tmp_path / "none.onnx"),
                           str(tmp_path / "out.onnx")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "no such model" in done.stderr


def test_an_fp16_copy_finds_what_the_fp32_model_finds(shared: Path, project_root: Path, tmp_path: Path,
                                                      images: list[np.ndarray]) -> None:
    target = tmp_path / "yolox-fp16.onnx"
    done = subprocess.run([sys.executable, str(project_root / "models/fp16.py"),
                           str(shared / "models/yolox-nano-coco-416.onnx"), str(target)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    half, full = YoloDetector(target), YoloDetector(shared / "models/yolox-nano-coco-416.onnx")
    assert half.input_dtype is np.float16
    for image in images:
        assert_same_confident_objects(full.detect(image), half.detect(image))
    refused = subprocess.run([sys.executable, str(project_root / "models/fp16.py"),
                              str(shared / "models/yolo11n-coco-int8-320.onnx"), str(tmp_path / "x.onnx")],
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "int8" in refused.stderr


def test_fp16_asks_tensorrt_and_openvino_for_half_precision() -> None:
    settings = provider_settings(["TensorrtExecutionProvider", "CUDAExecutionProvider", "OpenVINOExecutionProvider",
                                  "CPUExecutionProvider"], fp16=True)
    assert settings[0] == ("TensorrtExecutionProvider", {"trt_fp16_enable": "True", "trt_engine_cache_enable": "True"})
    assert settings[1] == "CUDAExecutionProvider" and settings[3] == "CPUExecutionProvider"
    assert settings[2] == ("OpenVINOExecutionProvider", {"precision": "FP16"})
    assert provider_settings(["TensorrtExecutionProvider"]) == ["TensorrtExecutionProvider"]


def test_on_the_cpu_each_core_runs_its_own_single_threaded_call(shared: Path) -> None:
    model = shared / "models/yolo11n-coco-int8-320.onnx"
    cores = os.cpu_count() or 1
    assert ModelConfig(path=model).inference_plan() == (1, cores)
    assert ModelConfig(path=model, threads=2).inference_plan() == (2, max(1, cores // 2))
    assert ModelConfig(path=model, workers=3).inference_plan() == (1, 3)
    # a GPU provider named but not installed here: the CPU plan applies
    assert ModelConfig(path=model, providers=["CUDAExecutionProvider", "CPUExecutionProvider"]).inference_plan() \
        == (1, cores)
