"""models/quantize.py: a statically quantized int8 copy, checked against its source before it is written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import onnx
import pytest
from builders import assert_same_confident_objects
from onnx import TensorProto, numpy_helper

from contract.geometry import box_iou
from edge.config import ModelConfig
from edge.detector import INT8_WEIGHTS_KEY, YoloDetector, cpu_notice, dynamically_quantized

CLIPS = ("street-traffic-960x540.mp4", "road-cars-768x432.mp4", "carpark-320x240.mp4")
IMAGES = ("bus.jpg", "zidane.jpg", "road-motorbikes-1280x574.jpg", "carpark-1920x1080.jpg")


def quantize(project_root: Path, source: Path, target: Path, *frames: Path, count: int = 60):
    return subprocess.run([sys.executable, str(project_root / "models/quantize.py"), str(source), str(target),
                           "--frames", *map(str, frames), "--count", str(count)],
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def tool(project_root: Path):
    """models/quantize.py as a module, for its parts."""
    sys.path.insert(0, str(project_root / "models"))
    import quantize as module

    return module


@pytest.fixture(scope="module")
def static_yolo11n(shared: Path, project_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared dynamically quantized YOLO11n, quantized statically on three shared clips (its CLI)."""
    target = tmp_path_factory.mktemp("quantize") / "yolo11n-320-static.onnx"
    done = quantize(project_root, shared / "models/yolo11n-coco-int8-320.onnx", target,
                    *(shared / "media/clips" / clip for clip in CLIPS))
    assert done.returncode == 0, done.stderr
    assert f"wrote {target} (int8, static, 7-bit weights)" in done.stdout and "confident objects" in done.stdout
    return target


def test_the_static_copy_finds_the_confident_objects_of_its_source_on_pictures_it_never_saw(
        shared: Path, static_yolo11n: Path) -> None:
    source = YoloDetector(shared / "models/yolo11n-coco-int8-320.onnx")
    copy = YoloDetector(static_yolo11n)
    assert copy.class_names == source.class_names  # the metadata came along
    found = total = 0
    for name in IMAGES:
        image = cv2.imread(str(shared / "media/images" / name))
        a, b = source.detect(image), copy.detect(image)
        strong = a[a.confidence >= 0.5]
        total += len(strong)
        if len(strong) and len(b):
            iou = box_iou(strong.xyxy, b.xyxy) * (strong.class_id[:, None] == b.class_id[None, :])
            found += int((iou.max(axis=1) >= 0.5).sum())
    assert total >= 10 and found >= 0.95 * total


def test_the_copy_is_static_int8_with_the_head_decoding_left_in_float(shared: Path, static_yolo11n: Path) -> None:
    assert dynamically_quantized(shared / "models/yolo11n-coco-int8-320.onnx")  # the doctor's notice
    assert not dynamically_quantized(static_yolo11n) and not dynamically_quantized(
        shared / "models/yolox-nano-coco-416.onnx")
    graph = onnx.load(str(static_yolo11n)).graph
    ops = {node.op_type for node in graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops and not ops & {"ConvInteger", "DynamicQuantizeLinear"}
    weights = {init.name: init for init in graph.initializer}
    convs = [node for node in graph.node if node.op_type == "Conv"]
    producer = {out: node for node in graph.node for out in node.output}

    def quantized_weight(conv) -> bool:
        feed = producer.get(conv.input[1])
        return feed is not None and feed.op_type == "DequantizeLinear" \
            and weights[feed.input[0]].data_type == TensorProto.INT8

    backbone = [conv for conv in convs if not conv.name.startswith("/model.23/")]
    assert backbone and all(quantized_weight(conv) for conv in backbone)
    dfl = [conv for conv in convs if "/dfl/" in conv.name]  # its input is a softmax: 0..1 beside pixel sizes
    assert dfl and not any(quantized_weight(conv) for conv in dfl)
    concat = next(node for node in graph.node if node.output[0] == graph.output[0].name)
    assert all(producer[name].op_type != "DequantizeLinear" for name in concat.input)


AVX2_ONLY = "processor\t: 0\nflags\t\t: fpu sse sse2 ssse3 fma avx avx2 bmi2\n"
WITH_VNNI = "processor\t: 0\nflags\t\t: fpu sse sse2 ssse3 fma avx avx2 avx512f avx512bw avx512_vnni\n"


def test_the_copys_weights_use_seven_bits_so_that_no_cpu_saturates_their_sums(static_yolo11n: Path) -> None:
    # x86 CPUs without VNNI multiply unsigned by signed bytes in pairs summed to 16 bits
    # (VPMADDUBSW): 255 * 64 * 2 fits, 255 * 127 * 2 does not.
    model = onnx.load(str(static_yolo11n))
    weights = [numpy_helper.to_array(init) for init in model.graph.initializer
               if init.data_type == TensorProto.INT8 and len(init.dims) == 4]
    assert len(weights) > 50
    assert min(int(w.min()) for w in weights) >= -64 and max(int(w.max()) for w in weights) <= 64
    assert {p.key: p.value for p in model.metadata_props}[INT8_WEIGHTS_KEY] == "7-bit"
    assert cpu_notice(ModelConfig(path=static_yolo11n), YoloDetector(static_yolo11n), AVX2_ONLY) is None


def test_full_8bit_weights_on_a_cpu_without_vnni_are_named(static_yolo11n: Path, tmp_path: Path) -> None:
    model = onnx.load(str(static_yolo11n))
    onnx.helper.set_model_props(model, {**{p.key: p.value for p in model.metadata_props}, INT8_WEIGHTS_KEY: "8-bit"})
    full = tmp_path / "full.onnx"  # as `quantize.py --vnni` marks its copy
    onnx.save(model, str(full))
    config, detector = ModelConfig(path=full), YoloDetector(full)
    notice = cpu_notice(config, detector, AVX2_ONLY)
    assert notice is not None and "--vnni" in notice and "no VNNI" in notice
    assert cpu_notice(config, detector, WITH_VNNI) is None
    assert cpu_notice(config, detector, "processor\t: 0\nFeatures\t: fp asimd asimddp\n") is None  # ARM


def test_a_copy_that_loses_the_sources_objects_is_not_written(shared: Path, project_root: Path,
                                                             tmp_path: Path) -> None:
    # YOLOX-nano (float, other head layout) does not survive this quantization: the check says so.
    target = tmp_path / "yolox-static.onnx"
    done = quantize(project_root, shared / "models/yolox-nano-coco-416.onnx", target,
                    *(shared / "media/clips" / clip for clip in CLIPS))
    assert done.returncode == 2 and "not written" in done.stderr and "confident objects" in done.stderr
    assert not target.exists()


def test_bad_input_is_named(shared: Path, project_root: Path, static_yolo11n: Path, tmp_path: Path) -> None:
    source = shared / "models/yolo11n-coco-int8-320.onnx"
    missing = quantize(project_root, source, tmp_path / "a.onnx", tmp_path / "no-such.mp4")
    assert missing.returncode == 2
    assert f"no such calibration file or folder: {tmp_path / 'no-such.mp4'}" in missing.stderr
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    broken = quantize(project_root, source, tmp_path / "b.onnx", text)
    assert broken.returncode == 2 and f"{text}: not a video PyAV can read" in broken.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = quantize(project_root, source, tmp_path / "c.onnx", empty)
    assert nothing.returncode == 2 and "no calibration frames" in nothing.stderr
    again = quantize(project_root, static_yolo11n, tmp_path / "d.onnx", shared / "media/clips" / CLIPS[0])
    assert again.returncode == 2 and "already statically quantized" in again.stderr
    assert not any((tmp_path / name).exists() for name in ("a.onnx", "b.onnx", "c.onnx", "d.onnx"))


def test_calibration_frames_are_spread_over_each_video_and_scaled_down(shared: Path, tool) -> None:
    clip, image = shared / "media/clips/street-1920x1080.mp4", shared / "media/images/bus.jpg"
    frames = tool.frames_of([clip, image], 12, 320)
    assert len(frames) == 7  # 6 of each source: 6 of the clip, and the one image
    assert all(max(frame.shape[:2]) == 320 for frame in frames)
    assert len({frame.tobytes() for frame in frames[:6]}) == 6  # six moments of the clip, not its first frame six times


def test_a_dynamically_quantized_model_turned_back_to_float_finds_what_it_found(
        shared: Path, tool, tmp_path: Path) -> None:
    source = shared / "models/yolo11n-coco-int8-320.onnx"
    model = tool.float_model(onnx.load(str(source)))
    assert not {node.op_type for node in model.graph.node} & {"ConvInteger", "DynamicQuantizeLinear"}
    plain = tmp_path / "float.onnx"
    onnx.save(model, str(plain))
    a, b = YoloDetector(source), YoloDetector(plain)
    for name in IMAGES:  # only the activations' rounding differs: the confident objects are the same
        image = cv2.imread(str(shared / "media/images" / name))
        assert_same_confident_objects(a.detect(image), b.detect(image))
