"""What reading a camera's live stream off the network costs an edge box, besides decoding it.

    python bench/stream_read.py [--clip street-1920x1080.mp4] [--sizes 1920x1080,640x360]
                                [--streams 4] [--seconds 20] [--save-capacity box.json]

The capacity benchmark (bench/edge_capacity.py) plays its cameras from files, which the box
reads for almost nothing; a live camera's RTSP stream comes in small pieces that FFmpeg reads
one by one. For each size this plays the clip (re-encoded with a 2 s GOP, as cameras send
it) from a real RTSP server on loopback (tests/rtsp_server.py, GStreamer's gst-rtsp-server,
in real time) and reads it ``--streams`` times at once as the box reads a main stream
(``edge.mainstream.MainStream``: every packet, over TCP, keyframes kept), printing the CPU
seconds per second one stream's reading takes in this process (the server's own CPU is not
counted). With ``--save-capacity``, the higher figure goes into that capacity file as
``live_stream_cores``, which ``gridpatrol plan`` charges per live stream.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from measure import cpu_s  # noqa: E402

from gridpatrol.data import data_dir  # noqa: E402

WARMUP_S = 5.0  # the readers connected and past their first keyframe


def read_cost(clip: Path, streams: int, seconds: float) -> dict:
    """CPU seconds per second of reading one live stream of ``clip``, ``streams`` read at once."""
    from edge.mainstream import MainStream
    from tests.builders import RtspCamera

    server = RtspCamera(clip)
    try:
        try:
            server.start()
        except RuntimeError as exc:
            raise SystemExit(str(exc)) from None
        stop = threading.Event()
        readers = [MainStream(server.url, stop=stop.is_set) for _ in range(streams)]
        for reader in readers:
            reader.start()
        time.sleep(WARMUP_S)
        cpu0, wall0, keyframes0 = cpu_s(), time.monotonic(), sum(r.keyframes for r in readers)
        time.sleep(seconds)
        cpu, wall = cpu_s() - cpu0, time.monotonic() - wall0
        keyframes = sum(r.keyframes for r in readers) - keyframes0
        stop.set()
        errors = [r.error for r in readers if r.error]
    finally:
        server.kill()
    return {"cores_per_stream": cpu / wall / streams, "keyframes_per_s": keyframes / wall / streams,
            "errors": errors}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clip", default="street-1920x1080.mp4", help="a clip of GRIDPATROL_DATA/media/clips")
    parser.add_argument("--sizes", default="1920x1080,640x360", help="stream sizes to read (main, substream)")
    parser.add_argument("--streams", type=int, default=4, help="streams read at once per size")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--save-capacity", type=Path, metavar="JSON",
                        help="a capacity file (bench/edge_capacity.py --save-capacity) to add the figure to")
    args = parser.parse_args()
    clip = data_dir() / "media" / "clips" / args.clip
    if not clip.is_file():
        print(f"missing {clip} (GRIDPATROL_DATA points at the shared data set)", file=sys.stderr)
        return 1
    from tests.builders import encode_clip

    work = Path(tempfile.mkdtemp(prefix="stream-read-"))
    print(f"clip {clip.name}, 2 s GOP, {args.streams} streams read at once per size, {args.seconds:.0f} s, "
          f"RTSP over TCP on loopback")
    worst = 0.0
    for size in args.sizes.split(","):
        width, height = (int(v) for v in size.lower().split("x"))
        stream = encode_clip(clip, work / f"{clip.stem}-{width}x{height}.mp4", 2.0, (width, height),
                             args.seconds + 2 * WARMUP_S)
        kbps = stream.stat().st_size * 8 / 1000 / (args.seconds + 2 * WARMUP_S)
        cost = read_cost(stream, args.streams, args.seconds)
        if cost["errors"] or cost["keyframes_per_s"] < 0.25:
            print(f"{size}: the streams were not read ({'; '.join(cost['errors']) or 'no keyframes came'})",
                  file=sys.stderr)
            return 1
        worst = max(worst, cost["cores_per_stream"])
        print(f"{size} at {kbps:.0f} kbit/s: {1000 * cost['cores_per_stream']:.1f} ms of CPU per second per stream "
              f"({cost['keyframes_per_s']:.2f} keyframes/s each)", flush=True)
    if args.save_capacity:
        from gridpatrol.plan import BoxCapacity

        capacity = BoxCapacity.model_validate(json.loads(args.save_capacity.read_text()))
        capacity = capacity.model_copy(update={"live_stream_cores": worst})
        args.save_capacity.write_text(capacity.model_dump_json(indent=2) + "\n")
        print(f"wrote live_stream_cores {worst:.4f} into {args.save_capacity}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
