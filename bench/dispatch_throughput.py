"""Dispatcher ingest throughput: events/s from a real Mosquitto into PostgreSQL, with routing
and notification records, publish→notification latency, and duplicates under redelivery.

    python bench/dispatch_throughput.py [--events 20000] [--cameras 1150] [--redeliver 0.05]

Starts its own Mosquitto (free port) and a fresh PostgreSQL database (on the local server,
GRIDPATROL_TEST_PG to point elsewhere), runs `gridpatrol dispatcher serve` as a separate
process, publishes ``--events`` opened events over ``--cameras`` cameras at QoS 1 as fast as
the broker takes them, re-publishes a share of them (as QoS 1 redelivery would), and waits
until every case and notification is stored. Prints sustained rate and latency percentiles.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from harness import BenchTown, percentiles
from paho.mqtt.enums import CallbackAPIVersion

from contract import EventState, ViolationEvent, event_id_for
from tests.builders import iso, violation_event


def make_events(count: int, cameras: int) -> list[ViolationEvent]:
    events = []
    for i in range(count):
        vid = uuid.uuid4()
        cam = f"cam-{i % cameras:04d}"
        events.append(violation_event(
            event_id=str(event_id_for(vid, EventState.opened)), violation_id=str(vid),
            edge_id=f"box-{(i % cameras) // 50:02d}", camera_id=cam, micro_grid="mg-017" if i % 2 else "mg-018",
            started_at=iso(datetime.now(UTC)), observed_at=iso(datetime.now(UTC)), snapshot=None,
            # each event of a camera at its own spot, so none joins another's case
            objects=[{"class_name": "bicycle", "confidence": 0.8, "track_id": 1,
                      "bbox": [10 + 70 * (i // cameras), 20, 60 + 70 * (i // cameras), 90]}],
        ))
    return events


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--cameras", type=int, default=1150)
    parser.add_argument("--redeliver", type=float, default=0.05, help="share of events published twice")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--dispatchers", type=int, default=1,
                        help="dispatcher processes sharing the work (MQTT v5 shared subscription)")
    args = parser.parse_args()

    with BenchTown(args.dispatchers) as town:
        events = make_events(args.events, args.cameras)
        repeats = events[: int(len(events) * args.redeliver)]
        payloads = [(e.topic(), e.model_dump_json().encode()) for e in events + repeats]
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-publisher", protocol=mqtt.MQTTv5)
        client.max_inflight_messages_set(1000)
        client.max_queued_messages_set(0)
        client.connect("127.0.0.1", town.broker.port)
        client.loop_start()
        began = time.time()
        infos = [client.publish(topic, payload, qos=1) for topic, payload in payloads]
        for info in infos:
            info.wait_for_publish(60)
        published = time.time()
        while True:
            cases, notes = town.count("cases"), town.count("notifications")
            if (cases >= len(events) and notes >= len(events)) or time.time() - began > args.timeout:
                break
            time.sleep(0.2)
        done = time.time()
        stored_events = town.count("events")
        latencies = town.notify_latencies()
        client.loop_stop()
    print(f"dispatchers: {args.dispatchers}; events published: {len(events)} unique + {len(repeats)} "
          f"redelivered, over {args.cameras} cameras")
    rate_in = len(payloads) / (published - began)
    print(f"publish phase: {published - began:.1f}s ({rate_in:.0f} msg/s into Mosquitto)")
    print(f"ingest: {cases} cases, {stored_events} events, {notes} notifications stored in {done - began:.1f}s "
          f"-> {cases / (done - began):.0f} events/s sustained end to end")
    print(f"duplicates: {stored_events - len(events)} extra events, {cases - len(events)} extra cases "
          f"(of {len(repeats)} redelivered)")
    print(f"publish->notification stored latency: {percentiles(latencies)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
