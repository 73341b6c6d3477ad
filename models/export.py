"""Export an Ultralytics detector to ONNX for the edge (needs internet and the export extra).

    pip install 'gridpatrol[export]'        # pulls Ultralytics, PyTorch and torchvision
    python models/export.py --weights yolo11n.pt --imgsz 640 --out models/

The result is the format the edge reads (``1x3xHxW`` in, ``1x(4+C)xN`` out, class names in
the metadata); point ``model.path`` at it. A custom model (e-bikes, stalls, goods) exports
the same way from its own ``best.pt``. Optional int8: ``--int8`` quantizes the weights
dynamically with ONNX Runtime (as the shared test models are).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default="yolo11n.pt", help="Ultralytics weights (downloaded if a known name)")
    parser.add_argument("--imgsz", type=int, default=640)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    parser.add_argument("--int8", action="store_true", help="also write a dynamically quantized int8 copy")
    args = parser.parse_args()
    try:
        from ultralytics import YOLO
    except ImportError:
        print("Ultralytics is not installed: pip install 'gridpatrol[export]'", file=sys.stderr)
        return 2
    exported = Path(YOLO(args.weights).export(format="onnx", imgsz=args.imgsz, opset=12, simplify=True, nms=False))
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / f"{Path(args.weights).stem}-{args.imgsz}.onnx"
    shutil.move(str(exported), target)
    print(f"wrote {target}")
    if args.int8:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        int8 = target.with_name(target.stem + "-int8.onnx")
        quantize_dynamic(str(target), str(int8), weight_type=QuantType.QUInt8)
        print(f"wrote {int8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
