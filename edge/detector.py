"""Object detection with ONNX Runtime on YOLO models of two output formats.

- ``ultralytics``: any detection model exported by Ultralytics (``yolo export format=onnx``):
  one input ``1x3xHxW`` (RGB, 0..1, letterboxed centred with grey 114) and one output
  ``1x(4+C)xN`` of cx, cy, w, h and C class scores per candidate, without NMS.
- ``yolox``: Megvii YOLOX exports: input BGR 0..255, the image at the top left of the grey
  square; output ``1xNx(5+C)`` raw per grid cell of strides 8, 16 and 32 (offsets, log
  sizes, objectness, class scores), decoded here.

``auto`` tells them apart by the output's shape. Class names come from the model's metadata
(``names``), or from the config; a YOLOX model with 80 classes and no names is taken as COCO.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import onnxruntime as ort

from edge.config import ModelConfig
from edge.detections import COCO_NAMES, Detections
from i18n import Msg


class Detector(Protocol):
    """What a camera needs to find objects: a :class:`YoloDetector`, or the box's
    :class:`edge.batching.BatchScheduler` in front of one."""

    class_names: list[str]

    def detect(self, frame_bgr: np.ndarray) -> Detections: ...


class ModelError(RuntimeError):
    """The model file is missing, unreadable or not of a supported format."""


@dataclass(frozen=True)
class Letterbox:
    """How a frame was fitted into the model input: scale, then padding."""

    scale: float
    pad_x: float
    pad_y: float

    def to_frame(self, xyxy: np.ndarray) -> np.ndarray:
        out = xyxy.copy()
        out[:, [0, 2]] = (out[:, [0, 2]] - self.pad_x) / self.scale
        out[:, [1, 3]] = (out[:, [1, 3]] - self.pad_y) / self.scale
        return out


# A frame's candidate objects before suppression: (K, 4) cx, cy, w, h in input pixels, their
# best class, its score (YoloDetector.candidates).
Candidates = tuple[np.ndarray, np.ndarray, np.ndarray]


def _fitted(image: np.ndarray, size: tuple[int, int], centre: bool) -> tuple[np.ndarray, Letterbox]:
    """``image`` (H, W, 3) resized to fit ``size`` (height, width) keeping its aspect, and where
    it goes in it (around the middle, or at the top left with ``centre=False``)."""
    height, width = image.shape[:2]
    target_h, target_w = size
    scale = min(target_h / height, target_w / width)
    new_w, new_h = round(width * scale), round(height * scale)
    resized = image
    if (new_w, new_h) != (width, height):
        resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    pad_x, pad_y = ((target_w - new_w) / 2, (target_h - new_h) / 2) if centre else (0.0, 0.0)
    top, left = round(pad_y - 0.1), round(pad_x - 0.1)
    return resized, Letterbox(scale, float(left), float(top))


def letterbox(
    image: np.ndarray, size: tuple[int, int], fill: int = 114, centre: bool = True
) -> tuple[np.ndarray, Letterbox]:
    """Resize ``image`` (H, W, 3) to fit ``size`` (height, width) keeping its aspect, pad the
    rest (around it, or below and right of it with ``centre=False``)."""
    resized, box = _fitted(image, size, centre)
    top, left = int(box.pad_y), int(box.pad_x)
    canvas = np.full((*size, 3), fill, dtype=np.uint8)
    canvas[top:top + resized.shape[0], left:left + resized.shape[1]] = resized
    return canvas, box


def model_input(image: np.ndarray, size: tuple[int, int], scale: float, rgb: bool, fill: int = 114,
                centre: bool = True) -> tuple[np.ndarray, Letterbox]:
    """The letterboxed ``image`` as a model's ``1x3xHxW`` float32 input: its values times
    ``scale``, channels in RGB order with ``rgb``, the padding ``fill``. The very values of
    ``cv2.dnn.blobFromImage(letterbox(image)[0], scale, swapRB=rgb)``, written straight into
    the tensor: about half the CPU (0.13 against 0.25 ms from 640x360 to 320 here), every camera's every sample."""
    resized, box = _fitted(image, size, centre)
    height, width = resized.shape[:2]
    top, left = int(box.pad_y), int(box.pad_x)
    tensor = np.empty((1, 3, *size), np.float32)
    pad = np.float32(fill) * np.float32(scale)
    tensor[:, :, :top] = pad
    tensor[:, :, top + height:] = pad
    tensor[:, :, top:top + height, :left] = pad
    tensor[:, :, top:top + height, left + width:] = pad
    # plane by plane: cv2.split gives contiguous planes, and scaling each into its place is
    # 0.13 ms against 0.17 for the strided transpose of the interleaved picture at once
    planes = cv2.split(resized)
    for channel, plane in enumerate(planes[::-1] if rgb else planes):
        np.multiply(plane, np.float32(scale), casting="unsafe",
                    out=tensor[0, channel, top:top + height, left:left + width])
    return tensor, box


def _names_from_metadata(session: ort.InferenceSession) -> list[str] | None:
    raw = session.get_modelmeta().custom_metadata_map.get("names")
    if not raw:
        return None
    try:
        names = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return None
    if isinstance(names, dict):
        return [str(names[k]) for k in sorted(names)]
    if isinstance(names, list):
        return [str(n) for n in names]
    return None


def _guess_format(shape: Sequence[int | str]) -> str:
    """1x(4+C)xN (channels first, few) is Ultralytics; 1xNx(5+C) (cells first, many) is YOLOX."""
    a, b = shape[1], shape[2]
    if isinstance(a, int) and isinstance(b, int) and a > b:
        return "yolox"
    return "ultralytics"


def dynamically_quantized(path: str | Path) -> bool:
    """Whether the model was quantized dynamically (ONNX Runtime's ``quantize_dynamic``: its
    activations' ranges measured on every frame, unsigned bytes times unsigned bytes). On the
    CPU such a model ran no faster than float here, and a static copy twice as fast
    (``python models/quantize.py``). An ONNX file holds its operators' names as plain text, so
    the file is searched for that operator, a chunk at a time."""
    marker = b"DynamicQuantizeLinear"
    tail = b""
    with open(path, "rb") as model:
        while chunk := model.read(1 << 22):
            if marker in tail + chunk:
                return True
            tail = chunk[-len(marker):]
    return False


# models/quantize.py writes into the model's metadata how wide its int8 weights are: "7-bit"
# (its default) runs right on any x86 CPU, "8-bit" (``--vnni``) only on one with VNNI.
INT8_WEIGHTS_KEY = "gridpatrol_int8_weights"


def int8_saturates(cpuinfo: str | None = None) -> bool:
    """Whether this CPU multiplies int8 by int8 through 16-bit sums that saturate: an x86 CPU
    with AVX2 or AVX-512 but without VNNI (AVX512-VNNI, AVX-VNNI), where ONNX Runtime uses
    VPMADDUBSW. A model with full 8-bit weights loses objects there (here, on an AMD EPYC with
    AVX2 only, a copy quantized so found 93.8 % of its source's confident objects, the 7-bit
    copy 99.5 %). ``cpuinfo``: the text of ``/proc/cpuinfo``, read when not given; False where
    it cannot be read (not Linux) or the CPU is not x86 (ARM's dot products do not saturate)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            return False
    flags = next((line.split(":", 1)[1].split() for line in cpuinfo.splitlines()
                  if line.startswith("flags")), [])
    return "avx2" in flags and not {"avx512_vnni", "avx_vnni"} & set(flags)


def cpu_notice(model: ModelConfig, detector: YoloDetector, cpuinfo: str | None = None) -> Msg | None:
    """What the box's operator should know about running this model on this CPU, or None:
    a dynamically quantized model (slow), or 8-bit weights on a CPU where they saturate."""
    if not model.on_cpu():
        return None
    if dynamically_quantized(model.path):
        return Msg("it is quantized dynamically: on the CPU a static copy runs about twice as fast "
                   "(python models/quantize.py MODEL COPY --frames your cameras' videos)")
    weights = detector.session.get_modelmeta().custom_metadata_map.get(INT8_WEIGHTS_KEY)
    if weights == "8-bit" and int8_saturates(cpuinfo):
        return Msg("its int8 weights are full 8-bit (quantized with --vnni) and this CPU has no VNNI: its "
                   "sums saturate and it misses objects; quantize it again without --vnni")
    return None


def provider_settings(providers: Sequence[str], fp16: bool = False) -> list[str | tuple[str, dict[str, str]]]:
    """ONNX Runtime providers with their options: with ``fp16``, TensorRT builds fp16 engines and
    OpenVINO runs at FP16 (both convert an fp32 model themselves); CUDA and the CPU run the
    model at the precision of its weights (``python models/fp16.py`` writes an fp16 copy)."""
    options = {
        "TensorrtExecutionProvider": {"trt_fp16_enable": "True", "trt_engine_cache_enable": "True"},
        "OpenVINOExecutionProvider": {"precision": "FP16"},
    }
    return [(p, options[p]) if fp16 and p in options else p for p in providers]


class YoloDetector:
    """Runs an Ultralytics-format ONNX detector on BGR frames."""

    def __init__(
        self,
        path: str | Path,
        *,
        class_names: Sequence[str] | None = None,
        confidence: float = 0.25,
        nms_iou: float = 0.45,
        providers: Sequence[str] = ("CPUExecutionProvider",),
        threads: int = 0,
        output_format: str = "auto",
        spin: bool = False,
        fp16: bool = False,
    ) -> None:
        path = Path(path)
        if not path.is_file():
            raise ModelError(
                f"model file not found: {path} (set model.path, or export one with "
                "`python models/export.py`; see models/README.md)"
            )
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        if not spin:
            # ONNX Runtime's worker threads otherwise busy-wait after each run for the next: right
            # for a benchmark loop, CPU taken from the cameras' decoding on an edge box.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        available = set(ort.get_available_providers())
        chosen = [p for p in providers if p in available] or ["CPUExecutionProvider"]
        try:
            self.session = ort.InferenceSession(str(path), options, providers=provider_settings(chosen, fp16))
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelError(f"{path}: ONNX Runtime cannot load it: {exc}") from None
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            raise ModelError(f"{path}: expected one 4-D image input, got {[i.shape for i in inputs]}")
        self.input_name = inputs[0].name
        self.input_dtype = np.float16 if inputs[0].type == "tensor(float16)" else np.float32
        h, w = inputs[0].shape[2], inputs[0].shape[3]
        self.input_size = (h if isinstance(h, int) else 640, w if isinstance(w, int) else 640)
        out_shape = outputs[0].shape
        if len(out_shape) != 3:
            raise ModelError(f"{path}: expected a 1x(4+C)xN or 1xNx(5+C) output, got shape {out_shape}")
        self.format = output_format if output_format != "auto" else _guess_format(out_shape)
        if self.format not in ("ultralytics", "yolox"):
            raise ModelError(f"{path}: unknown output format {self.format!r} (ultralytics, yolox or auto)")
        channels = out_shape[1] if self.format == "ultralytics" else out_shape[2]
        channels = channels if isinstance(channels, int) else None
        extra = 4 if self.format == "ultralytics" else 5
        names = list(class_names) if class_names else _names_from_metadata(self.session)
        if names is None and self.format == "yolox" and channels == 85:
            names = list(COCO_NAMES)
        if names is None:
            raise ModelError(f"{path}: the model has no class names in its metadata; set model.class_names")
        if channels is not None and channels != extra + len(names):
            raise ModelError(
                f"{path}: output has {channels} channels but {len(names)} class names "
                f"({self.format} format is {extra} box values + one score per class)"
            )
        self.class_names: list[str] = names
        batch = inputs[0].shape[0]
        self.fixed_batch: int | None = batch if isinstance(batch, int) else None  # None: any batch
        self._grid: tuple[np.ndarray, np.ndarray] | None = None
        self.confidence = confidence
        self.nms_iou = nms_iou
        self.providers = self.session.get_providers()

    @classmethod
    def from_config(cls, cfg: ModelConfig) -> YoloDetector:
        return cls(cfg.path, class_names=cfg.class_names, confidence=cfg.confidence, nms_iou=cfg.nms_iou,
                   providers=cfg.providers, threads=cfg.inference_plan()[0], output_format=cfg.format, spin=cfg.spin,
                   fp16=cfg.fp16)

    def class_ids(self, names: Sequence[str]) -> list[int]:
        """Ids of ``names``; raises ``KeyError`` naming any the model does not know."""
        unknown = [n for n in names if n not in self.class_names]
        if unknown:
            raise KeyError(f"classes not in the model: {unknown}")
        return [self.class_names.index(n) for n in names]

    def preprocess(self, frame_bgr: np.ndarray) -> tuple[np.ndarray, Letterbox]:
        if self.format == "yolox":  # BGR 0..255, the image at the top left
            blob, box = model_input(frame_bgr, self.input_size, 1.0, rgb=False, centre=False)
        else:
            blob, box = model_input(frame_bgr, self.input_size, 1 / 255.0, rgb=True)
        return (blob if self.input_dtype is np.float32 else blob.astype(self.input_dtype)), box

    def infer(self, tensors: np.ndarray) -> np.ndarray:
        """Raw outputs of preprocessed frames stacked on the first axis, in as few runs as the
        model's batch allows: all at once on a dynamic batch, in chunks of a fixed one (the
        last chunk padded)."""
        step = self.fixed_batch or len(tensors)
        outs = []
        for start in range(0, len(tensors), step):
            chunk = tensors[start:start + step]
            short = step - len(chunk)
            if short:
                chunk = np.concatenate([chunk, np.zeros((short, *chunk.shape[1:]), chunk.dtype)])
            outs.append(self.session.run(None, {self.input_name: chunk})[0][:step - short])
        return outs[0] if len(outs) == 1 else np.concatenate(outs)

    def detect_batch(self, frames_bgr: Sequence[np.ndarray]) -> list[Detections]:
        """Detect in several frames, batched as far as the model allows."""
        prepared = [self.preprocess(frame) for frame in frames_bgr]
        raw = self.infer(np.concatenate([tensor for tensor, _ in prepared]))
        return [self.postprocess(raw[i], box, frame.shape[:2])
                for i, ((_, box), frame) in enumerate(zip(prepared, frames_bgr, strict=True))]

    def detect(self, frame_bgr: np.ndarray) -> Detections:
        tensor, box = self.preprocess(frame_bgr)
        return self.postprocess(self.infer(tensor)[0], box, frame_bgr.shape[:2])

    def candidates(self, raw: np.ndarray) -> Candidates:
        """The first step of :meth:`postprocess`: the few candidates of one frame's raw output
        (``(4 + C, N)`` or ``(N, 5 + C)``) at or above the confidence threshold, (K, 4) cx, cy,
        w, h in input pixels, their best class and its score. The box's inference threads take
        it while the output is still in their core's cache (a 320-px model's is 700 kB): 0.3 ms
        of a camera thread's CPU a sample for the whole postprocessing here, against 0.09 ms on
        a warm output. An Ultralytics output's best scores are taken along its contiguous rows
        and the best class only of the few candidates past the threshold (a transposed argmax
        over all N was 0.4 ms a frame)."""
        raw = raw.astype(np.float32, copy=False)
        if self.format == "ultralytics":
            scores = raw[4:]
            confidence = scores.max(axis=0)
            keep = np.flatnonzero(confidence >= self.confidence)
            return raw[:4, keep].T, scores[:, keep].argmax(axis=0), confidence[keep]
        grid, strides = self._yolox_grid(raw.shape[0])
        xy = (raw[:, :2] + grid) * strides
        wh = np.exp(np.minimum(raw[:, 2:4], 10.0)) * strides
        scores = raw[:, 5:] * raw[:, 4:5]
        class_id = scores.argmax(axis=1)
        confidence = scores[np.arange(len(scores)), class_id]
        keep = confidence >= self.confidence
        return np.concatenate([xy, wh], axis=1)[keep], class_id[keep], confidence[keep]

    def _yolox_grid(self, count: int) -> tuple[np.ndarray, np.ndarray]:
        if self._grid is None or self._grid[0].shape[0] != count:
            h, w = self.input_size
            cells, steps = [], []
            for stride in (8, 16, 32):
                ys, xs = np.meshgrid(np.arange(h // stride), np.arange(w // stride), indexing="ij")
                cells.append(np.stack([xs, ys], axis=-1).reshape(-1, 2))
                steps.append(np.full((cells[-1].shape[0], 1), stride))
            self._grid = (np.concatenate(cells).astype(np.float32), np.concatenate(steps).astype(np.float32))
            if self._grid[0].shape[0] != count:
                raise ModelError(f"YOLOX output has {count} cells; strides 8/16/32 of {h}x{w} give "
                                 f"{self._grid[0].shape[0]}")
        return self._grid

    def postprocess(self, raw: np.ndarray, box: Letterbox, frame_hw: tuple[int, int]) -> Detections:
        return self.boxes(self.candidates(raw), box, frame_hw)

    def boxes(self, candidates: Candidates, box: Letterbox, frame_hw: tuple[int, int]) -> Detections:
        """The second step of :meth:`postprocess`: candidates suppressed per class (NMS) and
        their boxes put back on the frame."""
        preds, class_id, confidence = candidates
        if not len(confidence):
            return Detections.empty()
        cx, cy, w, h = preds[:, 0], preds[:, 1], preds[:, 2], preds[:, 3]
        xywh = np.stack([cx - w / 2, cy - h / 2, w, h], axis=1)
        chosen = cv2.dnn.NMSBoxesBatched(
            xywh.tolist(), confidence.tolist(), class_id.tolist(), self.confidence, self.nms_iou
        )
        chosen = np.asarray(chosen, dtype=np.int64).reshape(-1)
        xyxy = np.concatenate([xywh[chosen, :2], xywh[chosen, :2] + xywh[chosen, 2:]], axis=1)
        xyxy = box.to_frame(xyxy)
        height, width = frame_hw
        xyxy[:, [0, 2]] = xyxy[:, [0, 2]].clip(0, width)
        xyxy[:, [1, 3]] = xyxy[:, [1, 3]].clip(0, height)
        return Detections(
            xyxy.astype(np.float32), confidence[chosen].astype(np.float32), class_id[chosen].astype(np.int32)
        )
