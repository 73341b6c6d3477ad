"""Write a half-precision (fp16) copy of an fp32 ONNX detector, for GPU providers.

    python models/fp16.py yolox-nano-416.onnx yolox-nano-416-fp16.onnx

CUDA runs a model at the precision of its weights: an fp16 copy halves its memory and, on
GPUs with tensor cores, much of its time. (TensorRT and OpenVINO convert an fp32 model
themselves: set ``model.fp16: true`` instead.) Input and output become fp16 too; the edge's
detector feeds and reads them as the model declares. Uses ONNX Runtime's own converter.
Not for int8 models (already smaller than fp16), nor worth it on the CPU.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def to_fp16(source: Path, target: Path) -> None:
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = onnx.load(str(source))
    if any(node.op_type in ("ConvInteger", "DynamicQuantizeLinear", "QLinearConv") for node in model.graph.node):
        raise ValueError(f"{source} is quantized to int8; fp16 applies to fp32 models")
    target.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(convert_float_to_float16(model, keep_io_types=False), str(target))


def main() -> int:
    from convert_cli import run

    def convert(source: Path, target: Path, _: argparse.Namespace) -> str:
        to_fp16(source, target)
        return f"wrote {target} (fp16)"

    return run(__doc__, convert)


if __name__ == "__main__":
    sys.exit(main())
