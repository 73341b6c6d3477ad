"""Builds the demo bundle: the files ``gridpatrol demo`` plays, as published with a release.

- ``models/yolox-nano-coco-416.onnx``: Megvii's YOLOX-nano (COCO, Apache-2.0), as in the
  data folder;
- ``media/clips/shopfront-goods-768x432.mp4``: the walkway clip of intel-iot-devkit's sample
  videos (CC-BY-4.0; people walking past on a wooden floor) with goods drawn in front of
  the "shop": a carton put down at 50 s and taken in at 110 s, a crate put down at 65 s that
  stays (after the camera's exposure has settled: the background model learns the scene
  afresh when the whole frame brightens, as it does twice in the first 45 s). No COCO
  class names such goods; the edge's background model finds them.

Run with the data folder at hand (``GRIDPATROL_DATA`` or ``../shared``)::

    python scripts/make_demo_bundle.py --out dist/demo-bundle

It writes the files side by side, as a release holds them (its assets have no folders), a
NOTICE with their sources and licences, and prints the manifest entries (path, size,
SHA-256) for ``configs/demo-bundle.json``. Encoding is single-threaded
with fixed options, so the same PyAV build makes the same bytes.
"""

from __future__ import annotations

import argparse
import json
import shutil
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from gridpatrol.bundle import sha256_of
from gridpatrol.data import require

SOURCE_CLIP = "media/clips/walkway-people-768x432.mp4"
MODEL = "models/yolox-nano-coco-416.onnx"
CLIP = "media/clips/shopfront-goods-768x432.mp4"
# (x0, y0, x1, y1, front BGR, from s, until s)
GOODS = [
    (70, 318, 230, 408, (80, 130, 176), 50.0, 110.0),  # a carton, taped
    (548, 332, 700, 410, (170, 110, 40), 65.0, None),  # a blue crate
]
NOTICE = """GridPatrol demo bundle

models/yolox-nano-coco-416.onnx
  YOLOX-nano trained on COCO, by Megvii (https://github.com/Megvii-BaseDetection/YOLOX),
  Apache License 2.0. Unchanged ONNX export.

media/clips/shopfront-goods-768x432.mp4
  Derived from "people-detection" of intel-iot-devkit/sample-videos
  (https://github.com/intel-iot-devkit/sample-videos), Creative Commons Attribution 4.0
  International. Changed: two drawn boxes (goods) put on the floor for part of the clip,
  re-encoded with H.264.
"""


def draw_goods(image: np.ndarray, box: tuple[int, int, int, int], colour: tuple[int, int, int]) -> None:
    """A box seen slightly from above: a front face, a lighter top, dark edges, a band across."""
    x0, y0, x1, y1 = box
    depth = (y1 - y0) // 4
    front = np.array(colour, np.float32)
    image[y0 + depth:y1, x0:x1] = front
    top = np.array([[x0, y0 + depth], [x0 + depth, y0], [x1, y0], [x1 - depth // 2, y0 + depth]], np.int32)
    import cv2

    cv2.fillConvexPoly(image, top, tuple(int(c) for c in np.clip(front * 1.25, 0, 255)))
    cv2.rectangle(image, (x0, y0 + depth), (x1 - 1, y1 - 1), tuple(int(c) for c in front * 0.55), 2)
    middle = (y0 + depth + y1) // 2
    cv2.rectangle(image, (x0, middle - 4), (x1 - 1, middle + 4), tuple(int(c) for c in front * 0.8), -1)


def make_clip(source: Path, out: Path) -> None:
    with av.open(str(source)) as src, av.open(str(out), "w", options={"fflags": "+bitexact"}) as dst:
        video = src.streams.video[0]
        rate = Fraction(video.average_rate or 10)
        stream = dst.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = video.width, video.height, "yuv420p"
        stream.options = {"preset": "medium", "crf": "23", "threads": "1", "g": str(int(2 * rate)),
                          "x264-params": "threads=1:lookahead-threads=1", "flags": "+bitexact"}
        for index, frame in enumerate(src.decode(video)):
            image = frame.to_ndarray(format="bgr24")
            t = index / float(rate)
            for x0, y0, x1, y1, colour, start, end in GOODS:
                if t >= start and (end is None or t < end):
                    draw_goods(image, (x0, y0, x1, y1), colour)
            new = av.VideoFrame.from_ndarray(image, format="bgr24")
            new.pts, new.time_base = index, 1 / rate
            dst.mux(stream.encode(new))
        dst.mux(stream.encode(None))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("dist/demo-bundle"))
    args = parser.parse_args(argv)
    source, model = require(SOURCE_CLIP, MODEL)
    args.out.mkdir(parents=True, exist_ok=True)
    asset = {path: args.out / path.rsplit("/", 1)[-1] for path in (MODEL, CLIP, "NOTICE.txt")}
    shutil.copyfile(model, asset[MODEL])
    make_clip(source, asset[CLIP])
    asset["NOTICE.txt"].write_text(NOTICE, encoding="utf-8")
    entries = [{"path": path, "size": file.stat().st_size, "sha256": sha256_of(file)} for path, file in asset.items()]
    print(json.dumps(entries, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
