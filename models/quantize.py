"""Write a statically quantized int8 copy of a detector, calibrated on your cameras' frames.

    python models/quantize.py yolo11n-320.onnx yolo11n-320-int8.onnx --frames cam-01.mp4 cam-02.mp4 stills/

On the CPU this is what makes a box analyse more cameras: YOLO11n at 320 ran 21 ms of CPU
per frame here as float, and as dynamically quantized int8 too (ONNX Runtime's
``quantize_dynamic``, as ``export.py`` used to write and the shared test models are: it
measures each activation's range again on every frame and multiplies unsigned by unsigned
bytes), against 10 ms statically quantized. Static quantization fixes each activation's
range beforehand from calibration frames, so they should be your cameras' own: the
views, light and objects the box will see (the frames are letterboxed as the edge does).

The source may be float (``yolo export format=onnx``) or dynamically quantized (it is turned
back to float first: its weights keep the rounding they had). Weights are quantized per
channel to signed bytes, activations to unsigned bytes (QDQ format). The weights use 7 of
their 8 bits (ONNX Runtime's ``reduce_range``): on an x86 CPU without VNNI (AVX2, or AVX-512
without its VNNI part) ONNX Runtime multiplies with VPMADDUBSW, whose sums of two products
saturate at 16 bits with full 8-bit weights. On an AMD EPYC with AVX2 only, a full-range copy
of YOLO11n found 93.8 % of its source's confident objects, the 7-bit copy 99.5 %, at the same
speed; a CPU with VNNI runs both right. ``--vnni`` writes full 8-bit weights, for boxes that
all have VNNI (``grep -o -m1 -E 'avx512_vnni|avx_vnni' /proc/cpuinfo``); the copy's metadata
says which it has (``gridpatrol_int8_weights``), and ``gridpatrol doctor`` warns where a
full-range copy runs on a CPU without VNNI. The detection head's decoding (box distributions, the concat of
boxes with class scores, sigmoid) stays float: quantized with one scale, scores between 0 and
1 next to box sizes in pixels round to nothing. Ultralytics models (YOLOv8, YOLO11) are told
by their node names; for another model the nodes after its last convolutions stay float.

Before the copy is written it is checked on frames held out from calibration, against the
source: the objects the source finds with confidence at least 0.5 must be found by the copy
(same class, IoU at least 0.5) and the copy's own confident objects must be the source's.
The figures are printed, and a copy that falls short is not written (exit 2).
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from onnx import ModelProto

    from edge.detector import YoloDetector

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}
VIDEO_SUFFIXES = {".mp4", ".mkv", ".mov", ".avi", ".ts", ".flv", ".h264", ".h265"}
CONFIDENT = 0.5  # the objects the check compares
MIN_FOUND = 0.95  # of the source's confident objects, the share the copy must find
MIN_OWN = 0.90  # of the copy's confident objects, the share that must be the source's
MAX_FRAMES = 1000  # calibration and check frames together, whatever --count says
SEEK_BEYOND_S = 10.0  # a video's next frame further on than this is sought, not decoded to


def frames_of(paths: Iterable[Path], count: int, longest: int) -> list[np.ndarray]:
    """Up to ``count`` BGR frames from the videos and images in ``paths`` (a folder: its videos
    and images), spread evenly over each video,
    each scaled down to at most ``longest`` pixels on its longer side (the detector letterboxes
    to its input size anyway). ``ValueError`` names a path that is neither."""
    import av
    import cv2

    sources: list[Path] = []
    for path in paths:
        if path.is_dir():
            sources += sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES)
        elif path.is_file():
            sources.append(path)
        else:
            raise ValueError(f"no such calibration file or folder: {path}")
    if not sources:
        raise ValueError("no calibration frames: give videos, images or folders of them with --frames")
    each = max(1, count // len(sources))

    def small(image: np.ndarray) -> np.ndarray:
        scale = longest / max(image.shape[:2])
        return cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else image

    frames: list[np.ndarray] = []
    for source in sources:
        if source.suffix.lower() in IMAGE_SUFFIXES:
            image = cv2.imread(str(source))
            if image is None:
                raise ValueError(f"{source}: not an image OpenCV can read")
            frames.append(small(image))
            continue
        try:
            with av.open(str(source)) as container:
                stream = container.streams.video[0]
                if not stream.duration or not stream.time_base:  # a stream of unknown length: its first frames
                    for index, frame in enumerate(container.decode(stream)):
                        if index >= each:
                            break
                        frames.append(small(frame.to_ndarray(format="bgr24")))
                    continue
                near = int(SEEK_BEYOND_S / stream.time_base)  # decode on to a time this close, seek past it
                decoded, last = container.decode(stream), None
                for k in range(each):  # decoded up to each of evenly spaced times
                    at = (stream.start_time or 0) + stream.duration * (2 * k + 1) // (2 * each)
                    if last is None or at - last > near:
                        container.seek(at, stream=stream)  # to the keyframe before it
                        decoded = container.decode(stream)
                    for frame in decoded:
                        last = frame.pts
                        if frame.pts is None or frame.pts >= at:
                            frames.append(small(frame.to_ndarray(format="bgr24")))
                            break
        except (av.error.FFmpegError, IndexError) as exc:
            raise ValueError(f"{source}: not a video PyAV can read ({exc})") from None
    return frames[:count]


def float_model(model: ModelProto) -> ModelProto:
    """The model with float convolutions: a dynamically quantized one (``ConvInteger`` fed by
    ``DynamicQuantizeLinear``, then ``Cast`` and ``Mul`` by the scales) gets back ``Conv`` with
    its weights dequantized; a float one comes back as it is. Opset 13 at least (per-channel
    scales need it)."""
    import onnx
    from onnx import helper, numpy_helper, version_converter

    graph = model.graph
    ops = {node.op_type for node in graph.node}
    if ops & {"QLinearConv", "QuantizeLinear", "DequantizeLinear"}:
        raise ValueError("the model is already statically quantized")
    if "ConvInteger" in ops:
        constants = {init.name: init for init in graph.initializer}
        producer = {out: node for node in graph.node for out in node.output}
        consumers: dict[str, list] = {}
        for node in graph.node:
            for name in node.input:
                consumers.setdefault(name, []).append(node)
        replaced, dropped, weights = {}, set(), []
        for node in (n for n in graph.node if n.op_type == "ConvInteger"):
            x_q, w_q, _, w_zero = (list(node.input) + [""] * 4)[:4]
            try:
                x = producer[x_q].input[0]  # the DynamicQuantizeLinear's float input
                cast = consumers[node.output[0]][0]
                scaled = consumers[cast.output[0]][0]
                scales = producer[next(i for i in scaled.input if i != cast.output[0])]
                w_scale = next(i for i in scales.input if i in constants)
            except (KeyError, IndexError, StopIteration):
                raise ValueError(f"{node.name}: not the ConvInteger pattern quantize_dynamic writes") from None
            w = numpy_helper.to_array(constants[w_q]).astype(np.float32)
            zero = numpy_helper.to_array(constants[w_zero]).astype(np.float32) if w_zero in constants else 0.0
            scale = numpy_helper.to_array(constants[w_scale]).astype(np.float32)
            shape = (-1,) + (1,) * (w.ndim - 1)
            w = (w - np.reshape(zero, shape if np.ndim(zero) else ())) * np.reshape(scale, shape if scale.ndim else ())
            name = f"{w_q}_float"
            weights.append(numpy_helper.from_array(w.astype(np.float32), name))
            conv = helper.make_node("Conv", [x, name], [scaled.output[0]], name=f"{node.name}_float")
            conv.attribute.extend(node.attribute)
            replaced[id(node)] = conv
            dropped |= {id(cast), id(scaled), id(scales)}
        nodes = [replaced.get(id(n), n) for n in graph.node if id(n) not in dropped]
        read = {name for n in nodes for name in n.input} | {out.name for out in graph.output}
        nodes = [n for n in nodes if n.op_type != "DynamicQuantizeLinear" or any(o in read for o in n.output)]
        del graph.node[:]
        graph.node.extend(nodes)
        graph.initializer.extend(weights)
        read = {name for n in graph.node for name in n.input}
        kept = [init for init in graph.initializer if init.name in read]
        del graph.initializer[:]
        graph.initializer.extend(kept)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset < 13:
        model = version_converter.convert_version(model, 13)
    onnx.checker.check_model(model)
    return model


def float_head(model: ModelProto) -> list[str]:
    """Names of the nodes to keep in float: the detection head's decoding."""
    graph = model.graph
    output = {out.name for out in graph.output}
    last = next((n.name for n in graph.node if set(n.output) & output), "")
    head = re.match(r"^(/model\.\d+/)", last)
    if head:  # Ultralytics Detect: cv2 (boxes) and cv3 (classes) stacks, their last conv, then decoding
        stacks = re.compile(re.escape(head.group(1)) + r"cv[23]\.\d+/cv[23]\.\d+\.[01]/")
        return [n.name for n in graph.node if n.name.startswith(head.group(1)) and not stacks.match(n.name)]
    # Another layout: nodes from which no convolution is reached, and the convolutions feeding only them.
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    reaches_conv: dict[int, bool] = {}
    for node in reversed(graph.node):  # the graph is in topological order
        after = [c for out in node.output for c in consumers.get(out, [])]
        reaches_conv[id(node)] = any(c.op_type == "Conv" or reaches_conv.get(id(c), False) for c in after)
    tail = {id(n) for n in graph.node if not reaches_conv[id(n)] and n.op_type != "Conv"}
    final = [n for n in graph.node if n.op_type == "Conv"
             and all(id(c) in tail for out in n.output for c in consumers.get(out, [])) and not reaches_conv[id(n)]]
    return [n.name for n in graph.node if id(n) in tail] + [n.name for n in final]


class _Calibration:
    def __init__(self, name: str, tensors: list[np.ndarray]) -> None:
        self.name = name
        self._tensors: Iterator[np.ndarray] = iter(tensors)

    def get_next(self) -> dict[str, np.ndarray] | None:
        tensor = next(self._tensors, None)
        return None if tensor is None else {self.name: tensor}

    def rewind(self) -> None:  # the quantizer's interface; one pass is all it takes here
        pass


def compare(source: YoloDetector, copy: YoloDetector, frames: list[np.ndarray]) -> dict[str, float]:
    """How the copy's confident detections agree with the source's on ``frames``."""
    from contract.geometry import box_iou

    found = confident = own = own_matched = 0
    for frame in frames:
        a, b = source.detect(frame), copy.detect(frame)
        same_class = a.class_id[:, None] == b.class_id[None, :]
        iou = box_iou(a.xyxy, b.xyxy) * same_class if len(a) and len(b) else np.zeros((len(a), len(b)))
        strong_a, strong_b = a.confidence >= CONFIDENT, b.confidence >= CONFIDENT
        confident += int(strong_a.sum())
        own += int(strong_b.sum())
        if iou.size:
            found += int((strong_a & (iou.max(axis=1) >= 0.5)).sum())
            own_matched += int((strong_b & (iou.max(axis=0) >= 0.5)).sum())
    return {"frames": len(frames), "confident": confident, "found": found / max(confident, 1),
            "own": own, "own_matched": own_matched / max(own, 1)}


def cpu_ms(detector: YoloDetector, tensor: np.ndarray, runs: int = 20) -> float:
    """CPU milliseconds per inference, one thread, after a warm-up."""
    for _ in range(3):
        detector.infer(tensor)
    start = time.process_time()
    for _ in range(runs):
        detector.infer(tensor)
    return 1000 * (time.process_time() - start) / runs


def quantize(source: Path, target: Path, calibration: list[Path], count: int = 200, vnni: bool = False) -> str:
    """Write ``target``, the int8 copy of ``source``, if it passes the check; say how it went.
    ``vnni``: full 8-bit weights, right only on CPUs with VNNI (7-bit otherwise, right on all)."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from edge.detector import INT8_WEIGHTS_KEY, ModelError, YoloDetector, int8_saturates

    try:
        original = YoloDetector(source, threads=1)
    except ModelError as exc:
        raise ValueError(str(exc)) from None
    frames = frames_of(calibration, count, max(original.input_size))
    if len(frames) < 4:
        raise ValueError(f"only {len(frames)} calibration frames: give at least 4 (more, from each camera, is better)")
    calibrate, check = frames[0::2], frames[1::2]  # the check runs on frames calibration did not see
    model = onnx.load(str(source))
    metadata = {p.key: p.value for p in model.metadata_props}
    model = float_model(model)
    with tempfile.TemporaryDirectory(prefix="quantize-") as work:
        plain, prepared, written = (Path(work) / name for name in ("float.onnx", "prepared.onnx", "int8.onnx"))
        onnx.save(model, str(plain))
        quant_pre_process(str(plain), str(prepared), skip_symbolic_shape=True)
        keep_float = float_head(onnx.load(str(prepared)))
        tensors = [original.preprocess(frame)[0].astype(np.float32) for frame in calibrate]
        quantize_static(str(prepared), str(written), _Calibration(original.input_name, tensors),
                        quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax,
                        nodes_to_exclude=keep_float, reduce_range=not vnni)
        int8 = onnx.load(str(written))
        weights = "8-bit" if vnni else "7-bit"
        onnx.helper.set_model_props(int8, {**metadata, INT8_WEIGHTS_KEY: weights})  # the class names go along
        onnx.save(int8, str(written))
        copy = YoloDetector(written, threads=1, class_names=original.class_names)
        agreement = compare(original, copy, check)
        times = (cpu_ms(original, tensors[0]), cpu_ms(copy, tensors[0]))
        figures = (f"on {agreement['frames']} frames calibration did not see: the copy found "
                   f"{agreement['found']:.1%} of the source's {agreement['confident']} confident objects, "
                   f"and {agreement['own_matched']:.1%} of its own {agreement['own']} are the source's; "
                   f"{times[0]:.1f} -> {times[1]:.1f} ms of CPU per frame on one thread here")
        advice = "calibrate on more frames of your cameras, or keep the float model"
        if vnni and int8_saturates():
            figures += " (a CPU without VNNI: it runs full 8-bit weights wrong, and so does any such box)"
            advice = "leave out --vnni for boxes without VNNI, or check the copy on a CPU with it"
        if agreement["confident"] == 0:
            raise ValueError(f"{figures}: the source found nothing confident on the check frames; "
                             "give frames with objects in them")
        if agreement["found"] < MIN_FOUND or agreement["own_matched"] < MIN_OWN:
            raise ValueError(f"not written, {figures} (needs {MIN_FOUND:.0%} and {MIN_OWN:.0%}): {advice}")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(written), target)
    return f"wrote {target} (int8, static, {weights} weights), {figures}"


def main() -> int:
    from convert_cli import run

    def arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--frames", type=Path, nargs="+", required=True,
                            help="videos, images or folders of images from the cameras the model will watch")
        parser.add_argument("--count", type=int, default=200,
                            help=f"frames to take, half to calibrate, half to check (at most {MAX_FRAMES})")
        parser.add_argument("--vnni", action="store_true",
                            help="full 8-bit weights: only for boxes whose CPUs all have VNNI (avx512_vnni or "
                            "avx_vnni in /proc/cpuinfo); elsewhere such a copy misses objects")

    def convert(source: Path, target: Path, args: argparse.Namespace) -> str:
        return quantize(source, target, args.frames, max(4, min(args.count, MAX_FRAMES)), args.vnni)

    return run(__doc__, convert, arguments)


if __name__ == "__main__":
    sys.exit(main())
