"""A town's event streams through the real broker and dispatchers: steady traffic, a broker
outage, and the burst when it returns.

    python bench/scale_sim.py [--cameras 1150] [--per-box 50] [--rate 6] [--speed 10]
                              [--steady-s 60] [--outage-s 60] [--dispatchers 2]

``--cameras`` simulated cameras on edge boxes of ``--per-box`` cameras each. Every box is a
real edge publisher (edge/publisher.py) with its own on-disk outbox, so what it does while
the broker is away is what a box does: it keeps queueing and sends everything, in order,
once the broker is back. Violations start at each camera as a Poisson process of ``--rate``
per camera per hour of town time (``--speed`` town seconds per real second); each one is
``opened``, half of them ``updated`` once, and ``cleared`` after a dwell drawn from an
exponential of 10 town minutes. After ``--steady-s`` the broker stops for ``--outage-s``
(the boxes keep detecting), then starts again with its persisted sessions.

Prints the offered and sustained event rates, p50/p99 latency from an event's queueing at its
box to its case's notification stored (steady phase, and after the outage), the backlog when
the broker returned and how long the town took to drain it.
"""

from __future__ import annotations

import argparse
import heapq
import random
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from harness import BenchTown, percentiles

from contract import EventState, ViolationEvent, event_id_for
from contract.mqtt import MqttConfig
from edge.config import EvidenceConfig
from edge.outbox import Outbox
from edge.publisher import Publisher
from tests.builders import iso, violation_event

DWELL_S = 600.0  # mean town seconds a violation stands before the camera sees it cleared


def event(camera: int, per_box: int, vid: uuid.UUID, state: EventState, seq: int, started: datetime) -> ViolationEvent:
    now = datetime.now(UTC)
    return violation_event(
        event_id=str(event_id_for(vid, state, seq)), violation_id=str(vid), state=state.value,
        edge_id=f"box-{camera // per_box + 1:03d}", camera_id=f"cam-{camera:04d}",
        micro_grid="mg-017" if camera % 2 else "mg-018", started_at=iso(started), observed_at=iso(now),
        dwell_s=(now - started).total_seconds(), snapshot=None,
        objects=[{"class_name": "bicycle", "confidence": 0.8, "track_id": seq,
                  "bbox": [10 + 70 * (hash(vid) % 20), 20, 60 + 70 * (hash(vid) % 20), 90]}],
    )


class Town:
    """The simulated cameras: a heap of due events, put into their box's outbox when due."""

    def __init__(self, args: argparse.Namespace, outboxes: list[Outbox]) -> None:
        self.args = args
        self.outboxes = outboxes
        self.rng = random.Random(7)
        self.per_camera_s = 3600.0 / args.rate / args.speed  # real seconds between violations at a camera
        self.due: list[tuple[float, int, int, str, uuid.UUID, datetime]] = []
        self.counter = 0
        self.queued = 0
        self.opened = 0
        start = time.time()
        for camera in range(args.cameras):
            self._push(start + self.rng.expovariate(1 / self.per_camera_s), camera, "start", uuid.uuid4(), None)

    def _push(self, at: float, camera: int, what: str, vid: uuid.UUID, started: datetime | None) -> None:
        self.counter += 1
        heapq.heappush(self.due, (at, self.counter, camera, what, vid, started or datetime.now(UTC)))

    def run_until(self, until: float) -> None:
        while True:
            now = time.time()
            if now >= until:
                return
            if not self.due or self.due[0][0] > now:
                time.sleep(min(0.01, until - now))
                continue
            at, _, camera, what, vid, started = heapq.heappop(self.due)
            per_box = self.args.per_box
            if what == "start":
                self._put(camera, event(camera, per_box, vid, EventState.opened, 0, datetime.now(UTC)))
                self.opened += 1
                dwell = self.rng.expovariate(1 / (DWELL_S / self.args.speed))
                if self.rng.random() < 0.5:
                    self._push(at + dwell / 2, camera, "update", vid, started)
                self._push(at + dwell, camera, "clear", vid, started)
                self._push(at + self.rng.expovariate(1 / self.per_camera_s), camera, "start", uuid.uuid4(), None)
            elif what == "update":
                self._put(camera, event(camera, per_box, vid, EventState.updated, 1, started))
            else:
                self._put(camera, event(camera, per_box, vid, EventState.cleared, 2, started))

    def _put(self, camera: int, e: ViolationEvent) -> None:
        self.outboxes[camera // self.args.per_box].put(e.topic(), e.model_dump_json().encode())
        self.queued += 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cameras", type=int, default=1150)
    parser.add_argument("--per-box", type=int, default=50, help="cameras per edge box")
    parser.add_argument("--rate", type=float, default=6.0, help="violations per camera per town hour")
    parser.add_argument("--speed", type=float, default=10.0, help="town seconds per real second")
    parser.add_argument("--steady-s", type=float, default=60.0)
    parser.add_argument("--outage-s", type=float, default=60.0)
    parser.add_argument("--drain-timeout-s", type=float, default=600.0)
    parser.add_argument("--dispatchers", type=int, default=2)
    args = parser.parse_args()

    boxes = -(-args.cameras // args.per_box)
    work = Path(tempfile.mkdtemp(prefix="gridpatrol-scale-"))
    starts = args.cameras * args.rate * args.speed / 3600
    print(f"{args.cameras} cameras on {boxes} edge boxes, {args.rate:g} violations per camera per hour, "
          f"town time x{args.speed:g}: ~{starts:.0f} new violations/s (each opened, half updated, cleared); "
          f"{args.dispatchers} dispatchers")
    with BenchTown(args.dispatchers) as town:
        outboxes = [Outbox(work / f"outbox-{n}.sqlite") for n in range(boxes)]
        publishers = [Publisher(f"box-{n + 1:03d}", MqttConfig(url=town.broker.url), EvidenceConfig(dir=work),
                                outboxes[n]) for n in range(boxes)]
        for publisher in publishers:
            publisher.start()
        sim = Town(args, outboxes)
        began = time.time()
        sim.run_until(began + args.steady_s)
        steady_end = time.time()
        stored_steady = town.count("events")
        print(f"steady: {sim.queued} events queued, {stored_steady} stored in {steady_end - began:.0f} s "
              f"({sim.queued / (steady_end - began):.1f} offered, {stored_steady / (steady_end - began):.1f} "
              f"stored events/s)")
        steady_latency = town.notify_latencies()

        town.broker.stop()
        outage_began = time.time()
        sim.run_until(outage_began + args.outage_s)
        backlog = sum(o.depth() for o in outboxes)
        stored_before = town.count("events")
        town.broker.start()
        back = time.time()
        print(f"outage: broker down {back - outage_began:.0f} s; backlog at the boxes when it returned: "
              f"{backlog} events")

        generated_by_back = sim.queued
        keep_going = threading.Event()

        def traffic() -> None:  # the town does not stop while the backlog drains
            while not keep_going.is_set():
                sim.run_until(time.time() + 0.5)

        feeder = threading.Thread(target=traffic, daemon=True)
        feeder.start()
        while town.count("events") < generated_by_back and time.time() - back < args.drain_timeout_s:
            time.sleep(0.5)
        drained = time.time()
        drained_count = town.count("events") - stored_before
        keep_going.set()
        feeder.join(5)
        print(f"drain: {drained_count} events stored in {drained - back:.1f} s after the broker returned "
              f"({drained_count / max(drained - back, 1e-9):.0f} events/s)"
              + ("" if drained - back < args.drain_timeout_s else " - NOT drained before the timeout"))
        time.sleep(2.0)
        after = town.notify_latencies(since=back + 1.0)
        for publisher in publishers:
            publisher.stop()
        total_events, cases = town.count("events"), town.count("cases")
        print(f"totals: {sim.queued} events queued, {total_events} stored, {sim.opened} violations opened, "
              f"{cases} cases; {sim.queued - total_events} still in flight at the end")
        print(f"queue->notification latency, steady: {percentiles(steady_latency)}")
        print(f"queue->notification latency, events queued after the broker returned: {percentiles(after)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
