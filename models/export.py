"""Export an Ultralytics detector to ONNX for the edge (needs internet and the export extra).

    pip install 'gridpatrol[export]'        # pulls Ultralytics, PyTorch and torchvision
    python models/export.py --weights yolo11n.pt --imgsz 640 --out models/

The result is the format the edge reads (``1x3xHxW`` in, ``1x(4+C)xN`` out, class names in
the metadata); point ``model.path`` at it. A custom model (e-bikes, stalls, goods) exports
the same way from its own ``best.pt``. Optional int8: ``--int8 --frames VIDEOS...`` also
writes a copy quantized statically on your cameras' frames (``quantize.py``: about twice as
fast on the CPU, checked against the float model before it is written).
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
    parser.add_argument("--int8", action="store_true",
                        help="also write an int8 copy, quantized statically on the --frames (models/quantize.py)")
    parser.add_argument("--frames", type=Path, nargs="+", default=[],
                        help="with --int8: videos, images or folders of them from the cameras the model will watch")
    args = parser.parse_args()
    if args.int8 and not args.frames:
        print("--int8 needs --frames: videos or images from your cameras to calibrate on", file=sys.stderr)
        return 2
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
        from quantize import quantize

        try:
            print(quantize(target, target.with_name(target.stem + "-int8.onnx"), args.frames))
        except ValueError as exc:
            print(f"int8: {exc}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
