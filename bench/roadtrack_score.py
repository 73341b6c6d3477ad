"""Scores the stationary-object logic on RoadTrack dev detections, in replay, counted strictly and
cross-validated by road segment.

    python bench/roadtrack_score.py [--config configs/roadtrack.yaml] [--dwell 3] [--jobs 2]
                                    [--no-cv] [--verbose]

Prints, for the shipped config over the whole split (P clips: stops; N clips: normal traffic,
where every event is a false alarm): precision, recall, F1 and the mean delay from rest to
event, counted strictly (an extra ``opened`` on a stop already found is a false alarm, a second
case for the dispatcher) with the lenient figures beside them, and the same per road segment.

Then leave-one-segment-out cross-validation: for each road segment (the ``K…`` part of the clip
names), the settings of ``GRID`` that score best (strict F1) on the other segments are chosen
and scored on the held-out one; the held-out scores, pooled, are the cross-validated figures,
the estimate for roads the settings were never tuned on. The settings most folds choose are
the ones to ship.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge.config import EdgeConfig, load_edge_config  # noqa: E402
from edge.evaluation import ClipScore, Summary, read_stops, road_segment, score_clip, summarize  # noqa: E402
from edge.replay import replay_mot  # noqa: E402
from gridpatrol.progress import Progress  # noqa: E402

START = datetime(1970, 1, 1, tzinfo=UTC)
FPS = 10.0

# The settings cross-validation chooses among: tracking.* and zone.* fields, each with its values.
GRID: dict[str, list[float]] = {
    "tracking.rejoin_s": [0.0, 30.0, 60.0, 120.0],
    "tracking.rejoin_distance": [1.0, 2.0],
    "zone.clear_s": [10.0, 20.0],
}

Settings = tuple[tuple[str, float], ...]


def data_dir() -> Path:
    return Path(os.environ.get("GRIDPATROL_DATA", ROOT.parent / "shared"))


def configured(path: str, settings: Settings, dwell_s: float) -> EdgeConfig:
    """The config at ``path`` with ``settings`` applied to its tracking and to every zone."""
    config = load_edge_config(path)
    for key, value in settings:
        section, field = key.split(".", 1)
        if section == "tracking":
            setattr(config.tracking, field, value)
    for camera in config.cameras:
        for zone in camera.zones:
            zone.dwell_s = dwell_s
            for key, value in settings:
                section, field = key.split(".", 1)
                if section == "zone":
                    setattr(zone, field, value)
    return config


def score_split(path: str, settings: Settings, dwell_s: float) -> dict[str, ClipScore]:
    """Every clip of the dev split replayed with ``settings``: clip (``P/…``, ``N/…``) → score."""
    config = configured(path, settings, dwell_s)
    split = data_dir() / "roadtrack-dev"
    scores: dict[str, ClipScore] = {}
    for part in ("P", "N"):
        for clip in sorted((split / part).iterdir()):
            camera = config.camera("highway-k249" if "_K249_" in clip.name else "highway")
            events = list(replay_mot(config, camera, clip / "det.txt", FPS, START, camera.frame_size))
            stops = read_stops(clip / "gt.txt") if (clip / "gt.txt").exists() else []
            scores[f"{part}/{clip.name}"] = score_clip(events, stops, START, FPS)
    return scores


def line(name: str, s: Summary) -> str:
    return (f"{name:>8}: clips {s.clips:3d} events {s.events:3d} false_alarms {s.false_alarms} "
            f"duplicates {s.duplicates} stops {s.stops:2d} found {s.found:2d} | strict P {s.precision:.3f} "
            f"R {s.recall:.3f} F1 {s.f1:.3f} | lenient P {s.lenient_precision:.3f} F1 {s.lenient_f1:.3f} | "
            f"mean delay {s.mean_delay_s:.2f} s")


def by_segment(scores: dict[str, ClipScore]) -> dict[str, list[ClipScore]]:
    groups: dict[str, list[ClipScore]] = {}
    for name, score in scores.items():
        groups.setdefault(road_segment(name), []).append(score)
    return dict(sorted(groups.items()))


def choose(runs: dict[Settings, dict[str, ClipScore]], clips: list[str]) -> Settings:
    """The settings with the best strict F1 over ``clips``; ties go to the shorter mean delay."""
    def merit(settings: Settings) -> tuple[float, float]:
        s = summarize([runs[settings][c] for c in clips])
        return (round(s.f1, 6), -s.mean_delay_s)
    return max(runs, key=merit)


def describe(settings: Settings) -> str:
    return " ".join(f"{k.split('.', 1)[1]}={v:g}" for k, v in settings)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(ROOT / "configs/roadtrack.yaml"))
    parser.add_argument("--dwell", type=float, default=3.0)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-cv", action="store_true", help="only the shipped config over the whole split")
    parser.add_argument("--verbose", action="store_true", help="list the clips with errors")
    args = parser.parse_args()

    grid = [tuple(zip(GRID, values, strict=True)) for values in itertools.product(*GRID.values())]
    began = time.perf_counter()
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        shipped_future = pool.submit(score_split, args.config, (), args.dwell)
        futures = {} if args.no_cv else {s: pool.submit(score_split, args.config, s, args.dwell) for s in grid}
        total = len(futures) + 1
        with Progress(total, "runs", "replaying the split") as progress:
            shipped = shipped_future.result()
            progress.to(1)
            runs = {}
            for done, (settings, future) in enumerate(futures.items(), start=2):
                runs[settings] = future.result()
                progress.to(done)
    elapsed = time.perf_counter() - began

    print(f"shipped config {args.config} (dwell_s {args.dwell:g}), whole dev split:")
    for part in ("P", "N"):
        print(line(part, summarize([s for c, s in shipped.items() if c.startswith(part)])))
    print(line("all", summarize(list(shipped.values()))))
    for segment, group in by_segment(shipped).items():
        print(line(segment, summarize(group)))
    if args.verbose:
        for clip, s in shipped.items():
            if s.false_alarms or s.found < s.stops or s.duplicates:
                print(f"  {clip}: events {s.events} fa {s.false_alarms} found {s.found}/{s.stops} "
                      f"dup {s.duplicates} delays {s.delays_s}")

    if runs:
        print(f"\nleave-one-segment-out cross-validation over {len(grid)} settings ({', '.join(GRID)}):")
        clips = list(shipped)
        held_out: list[ClipScore] = []
        chosen: Counter[Settings] = Counter()
        for segment in sorted({road_segment(c) for c in clips}):
            train = [c for c in clips if road_segment(c) != segment]
            test = [c for c in clips if road_segment(c) == segment]
            settings = choose(runs, train)
            chosen[settings] += 1
            held_out += [runs[settings][c] for c in test]
            print(line(segment, summarize([runs[settings][c] for c in test])) + f" | chosen: {describe(settings)}")
        print(line("CV", summarize(held_out)))
        best, folds = chosen.most_common(1)[0]
        print(f"chosen by {folds} of {sum(chosen.values())} folds: {describe(best)}")
        print(line("that,all", summarize(list(runs[best].values()))))
    print(f"replay: {len(grid) * (not args.no_cv) + 1} runs of the split in {elapsed:.1f} s "
          f"with {args.jobs} processes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
