"""Scores the stationary-object logic on RoadTrack dev detections, in replay.

    python bench/roadtrack_score.py [--config configs/roadtrack.yaml] [--dwell 3]

Prints precision, recall, F1 and mean delay from rest to event over the whole split
(P clips: stops; N clips: normal traffic, where every event is a false alarm).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge.config import load_edge_config  # noqa: E402
from edge.evaluation import read_stops, score_clip, summarize  # noqa: E402
from edge.replay import replay_mot  # noqa: E402

START = datetime(1970, 1, 1, tzinfo=UTC)


def data_dir() -> Path:
    return Path(os.environ.get("GRIDPATROL_DATA", ROOT.parent / "shared"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", default=str(ROOT / "configs/roadtrack.yaml"))
    parser.add_argument("--dwell", type=float, default=3.0)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    config = load_edge_config(args.config)
    for camera in config.cameras:
        for zone in camera.zones:
            zone.dwell_s = args.dwell
    split = data_dir() / "roadtrack-dev"
    scores = {"P": [], "N": []}
    began = time.perf_counter()
    frames = 0
    for part in ("P", "N"):
        for clip in sorted((split / part).iterdir()):
            camera = config.camera("highway-k249" if "_K249_" in clip.name else "highway")
            events = list(replay_mot(config, camera, clip / "det.txt", 10.0, START, camera.frame_size))
            stops = read_stops(clip / "gt.txt") if (clip / "gt.txt").exists() else []
            score = score_clip(events, stops, START, 10.0)
            frames += len((clip / "det.txt").read_text().splitlines())
            scores[part].append(score)
            if args.verbose and (score.false_alarms or score.found < score.stops or score.duplicates):
                print(f"  {part}/{clip.name}: events {score.events} fa {score.false_alarms} "
                      f"found {score.found}/{score.stops} dup {score.duplicates} delays {score.delays_s}")
    elapsed = time.perf_counter() - began
    total = summarize(scores["P"] + scores["N"])
    for name, group in (("P", scores["P"]), ("N", scores["N"]), ("all", scores["P"] + scores["N"])):
        s = summarize(group)
        print(f"{name:>3}: clips {s.clips} events {s.events} false_alarms {s.false_alarms} "
              f"stops {s.stops} found {s.found} duplicates {s.duplicates}")
    print(f"precision {total.precision:.3f} recall {total.recall:.3f} F1 {total.f1:.3f} "
          f"mean_delay_s {total.mean_delay_s:.2f} (dwell_s {args.dwell})")
    print(f"replay speed: {frames} detection rows in {elapsed:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
