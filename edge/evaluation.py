"""Scoring replayed events against labelled stops (RoadTrack ``gt.txt``).

A stop is a ground-truth track id; its first frame is when the vehicle came to rest. An
``opened`` event finds a stop when its box overlaps the stopped vehicle's box with IoU >=
``min_iou`` while the vehicle stands: at the event's frame, or, for an event that fired
before the labelled first frame, at that first frame provided the violation was still open
then (not cleared). The second case matters: RoadTrack's labels of vehicles that already
stand when a clip begins start at frame 41, while a 3 s dwell rightly fires at frame 31.
Such events count with their (negative) delay. An opened event that finds no stop is a
false alarm.

Counted strictly, an extra ``opened`` event on a stop already found is a false alarm too: for
the dispatcher it is a second case. The lenient figures, which count it as neither right nor
wrong, are printed beside them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from contract import EventState, ViolationEvent
from contract.geometry import box_iou


@dataclass
class Stop:
    track: int
    boxes: dict[int, np.ndarray]  # frame -> xyxy

    @property
    def first_frame(self) -> int:
        return min(self.boxes)


def read_stops(gt_path: str | Path) -> list[Stop]:
    stops: dict[int, Stop] = {}
    for line in Path(gt_path).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        parts = line.split(",")
        frame, track = int(parts[0]), int(parts[1])
        x, y, w, h = (float(v) for v in parts[2:6])
        stops.setdefault(track, Stop(track, {})).boxes[frame] = np.array([x, y, x + w, y + h], np.float32)
    return list(stops.values())


@dataclass
class ClipScore:
    events: int = 0
    false_alarms: int = 0
    stops: int = 0
    found: int = 0
    delays_s: list[float] = field(default_factory=list)
    duplicates: int = 0  # extra opened events on a stop already found


def event_frame(event: ViolationEvent, start: datetime, fps: float) -> int:
    return round((event.observed_at - start).total_seconds() * fps) + 1


def score_clip(
    events: list[ViolationEvent], stops: list[Stop], start: datetime, fps: float, min_iou: float = 0.3
) -> ClipScore:
    score = ClipScore(stops=len(stops))
    found: set[int] = set()
    cleared_at = {e.violation_id: event_frame(e, start, fps) for e in events if e.state is EventState.cleared}
    for event in events:
        if event.state is not EventState.opened:
            continue
        score.events += 1
        frame = event_frame(event, start, fps)
        open_until = cleared_at.get(event.violation_id, 10**9)
        box = np.array([event.objects[0].bbox], np.float32)
        hit: Stop | None = None
        for stop in stops:
            at = frame if frame in stop.boxes else stop.first_frame
            if at < frame or at > open_until:
                continue  # the vehicle left before the event, or the violation closed before it stood
            if box_iou(box, stop.boxes[at][None])[0, 0] >= min_iou:
                hit = stop
                break
        if hit is None:
            score.false_alarms += 1
        elif hit.track in found:
            score.duplicates += 1
        else:
            found.add(hit.track)
            score.delays_s.append((frame - hit.first_frame) / fps)
    score.found = len(found)
    return score


@dataclass
class Summary:
    clips: int
    events: int
    false_alarms: int
    stops: int
    found: int
    duplicates: int
    mean_delay_s: float

    @property
    def precision(self) -> float:
        """Strict: an extra opened event on a found stop is a false alarm."""
        return (self.events - self.false_alarms - self.duplicates) / self.events if self.events else 1.0

    @property
    def lenient_precision(self) -> float:
        """An extra opened event on a found stop counts as right."""
        return (self.events - self.false_alarms) / self.events if self.events else 1.0

    @property
    def recall(self) -> float:
        return self.found / self.stops if self.stops else 1.0

    @property
    def f1(self) -> float:
        return _f1(self.precision, self.recall)

    @property
    def lenient_f1(self) -> float:
        return _f1(self.lenient_precision, self.recall)


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


SEGMENT = re.compile(r"_(K\d+)_")


def road_segment(clip_name: str) -> str:
    """The road segment of a RoadTrack clip name (``04-14_09_K295_179`` → ``K295``)."""
    match = SEGMENT.search(clip_name)
    if match is None:
        raise ValueError(f"{clip_name}: no road segment (_K…_) in the clip name")
    return match.group(1)


def summarize(scores: list[ClipScore]) -> Summary:
    delays = [d for s in scores for d in s.delays_s]
    return Summary(
        clips=len(scores),
        events=sum(s.events for s in scores),
        false_alarms=sum(s.false_alarms for s in scores),
        stops=sum(s.stops for s in scores),
        found=sum(s.found for s in scores),
        duplicates=sum(s.duplicates for s in scores),
        mean_delay_s=float(np.mean(delays)) if delays else float("nan"),
    )
