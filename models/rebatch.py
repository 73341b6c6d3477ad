"""Write a copy of an ONNX detector that takes any batch size (for ``model.batch`` > 1).

    pip install onnx
    python models/rebatch.py yolo11n-320.onnx yolo11n-320-anybatch.onnx

Ultralytics exports with ``dynamic=False`` (the default, and the shared test models) fix the
batch at 1: the input and output say ``1x...``, and the reshapes in the detection head carry
the 1 as a constant. This rewrites that first 1 to 0 ("keep the input's size", ONNX Reshape
semantics) in every reshape on the image's path, leaving the reshapes of weights and
quantisation scales alone, and names the batch dimension of input and output ``batch``.
Where the export is available, ``yolo export format=onnx dynamic=True`` gives the same.

The copy is checked before it is written: a batch of copies of one random image must give,
for each, what the original gives for that image. Note for int8 models quantised
dynamically (``DynamicQuantizeLinear``): their activation scales are computed over the
whole input tensor, so in a batch of different frames each frame's output shifts a little
with the others; fp32 models give each frame exactly its own output.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


class RebatchError(ValueError):
    """The model cannot be rewritten to take any batch."""


def rebatch(source: Path, target: Path, check_batch: int = 3) -> int:
    """Write ``target``; returns how many reshapes were rewritten."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(source))
    graph = model.graph
    initialised = {init.name for init in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initialised]
    if len(inputs) != 1 or len(inputs[0].type.tensor_type.shape.dim) != 4:
        raise RebatchError(f"{source}: expected one 4-D image input")
    on_path = {inputs[0].name}
    for node in graph.node:  # ONNX keeps nodes in topological order
        if any(name in on_path for name in node.input):
            on_path.update(node.output)
    constants = {node.output[0]: node for node in graph.node if node.op_type == "Constant"}
    initializers = {init.name: init for init in graph.initializer}
    rewritten = 0
    for node in graph.node:
        if node.op_type != "Reshape" or node.input[0] not in on_path:
            continue
        shape_name = node.input[1]
        if shape_name in constants:
            tensor = constants[shape_name].attribute[0].t
        elif shape_name in initializers:
            tensor = initializers[shape_name]
        else:
            continue  # computed from the input's own shape: already follows the batch
        shape = numpy_helper.to_array(tensor).copy()
        if shape.size and shape[0] == 1:
            shape[0] = 0
            tensor.CopyFrom(numpy_helper.from_array(shape, tensor.name))
            rewritten += 1
    for value in [inputs[0], *graph.output]:
        value.type.tensor_type.shape.dim[0].dim_param = "batch"
    del graph.value_info[:]  # inferred shapes of the old batch; ONNX Runtime infers them again
    target.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(target))
    _check(source, target, check_batch)
    return rewritten


def _check(source: Path, target: Path, batch: int) -> None:
    import onnxruntime as ort

    original = ort.InferenceSession(str(source), providers=["CPUExecutionProvider"])
    try:
        copy = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own types
        target.unlink(missing_ok=True)
        raise RebatchError(f"{target}: ONNX Runtime cannot load the rewritten model: {exc}") from None
    meta = original.get_inputs()[0]
    dims = [d if isinstance(d, int) else 640 for d in meta.shape[1:]]
    image = np.random.default_rng(0).random((1, *dims), dtype=np.float32)
    if "uint8" in meta.type:
        image = (image * 255).astype(np.uint8)
    want = original.run(None, {meta.name: image})[0]
    try:
        got = copy.run(None, {meta.name: np.repeat(image, batch, axis=0)})[0]
    except Exception as exc:
        target.unlink(missing_ok=True)
        raise RebatchError(f"{target}: the rewritten model fails on a batch of {batch}: {exc}") from None
    if got.shape[0] != batch or not np.allclose(got, np.repeat(want, batch, axis=0), rtol=1e-4, atol=1e-3):
        target.unlink(missing_ok=True)
        raise RebatchError(f"{source}: a batch does not give each image its own output; the model reshapes "
                           "its batch in a way this tool does not rewrite (export it with dynamic=True)")


def main() -> int:
    from convert_cli import run

    def convert(source: Path, target: Path, _: argparse.Namespace) -> str:
        rewritten = rebatch(source, target)
        return f"wrote {target}: any batch ({rewritten} reshapes rewritten, checked against {source})"

    return run(__doc__, convert)


if __name__ == "__main__":
    sys.exit(main())
