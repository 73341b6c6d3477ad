"""The dispatcher's ingest fuzzed with hypothesis: random bytes, random JSON and sample events
with fields replaced, dropped or added, on right and wrong topics. Whatever arrives, ingest
never raises; each message is either stored as an event or kept in quarantine with a
reason and counted, and a good event afterwards still opens its case."""

from __future__ import annotations

import json
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from samples import sample_event
from sqlalchemy import func, select

from dispatcher.db import EventRow, QuarantineRow
from gridpatrol.demo import DispatcherThread

TOPIC = "gridpatrol/v1/box-01/cam-001/events"
FIELDS = list(sample_event())

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


@st.composite
def mutated_event(draw: st.DrawFn) -> bytes:
    """A sample event (its own ids, so not a duplicate) with up to three fields changed."""
    event = sample_event(event_id=str(uuid.uuid4()), violation_id=str(uuid.uuid4()))
    for _ in range(draw(st.integers(0, 3))):  # none: a valid event
        how = draw(st.sampled_from(["replace", "drop", "add", "object"]))
        key = draw(st.sampled_from(FIELDS))
        if how == "replace":
            event[key] = draw(json_values)
        elif how == "drop":
            event.pop(key, None)
        elif how == "add":
            event[draw(st.text(min_size=1, max_size=12))] = draw(json_values)
        else:  # inside the detected object
            objects = event.get("objects")
            first = objects[0] if isinstance(objects, list) and objects else None
            obj = dict(first) if isinstance(first, dict) else {}
            obj[draw(st.sampled_from(["class_name", "confidence", "bbox", "track_id"]))] = draw(json_values)
            event["objects"] = [obj]
    return json.dumps(event).encode()


messages = st.tuples(
    st.sampled_from([TOPIC, "gridpatrol/v1/box-01/cam-002/events", "gridpatrol/v1/x", ""]),
    st.one_of(st.binary(max_size=300), json_values.map(lambda v: json.dumps(v).encode()), mutated_event()),
)


def test_ingest_keeps_or_quarantines_whatever_arrives(dispatcher: DispatcherThread) -> None:
    ingest = dispatcher.services.ingest
    sessions = dispatcher.services.cases.sessions
    seen = {"examples": 0, "stored": 0, "quarantined": 0}

    @settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(messages, min_size=1, max_size=5))
    def one_batch(batch: list[tuple[str, bytes]]) -> None:
        with sessions() as s:
            events_before = s.scalar(select(func.count()).select_from(EventRow))
            kept_before = s.scalar(select(func.count()).select_from(QuarantineRow))
        quarantined_before = ingest.stats.quarantined
        results = ingest.handle_batch(batch)
        assert len(results) == len(batch)
        refused = sum(r is None for r in results)
        with sessions() as s:
            kept = s.scalars(select(QuarantineRow).order_by(QuarantineRow.id.desc()).limit(refused)).all() \
                if refused else []
            assert s.scalar(select(func.count()).select_from(QuarantineRow)) == kept_before + refused
            new_events = s.scalar(select(func.count()).select_from(EventRow)) - events_before
        assert all(row.reason for row in kept)  # each with the reason
        assert ingest.stats.quarantined == quarantined_before + refused  # and counted
        assert new_events == sum(r is not None and not r.duplicate for r in results)
        seen["examples"] += 1
        seen["stored"] += new_events
        seen["quarantined"] += refused

    one_batch()
    assert seen["quarantined"] > 0 and seen["examples"] >= 100
    print(f"fuzz: {seen['examples']} batches, {seen['stored']} events stored, {seen['quarantined']} quarantined")
    good = sample_event(event_id=str(uuid.uuid4()), violation_id=str(uuid.uuid4()), camera_id="cam-001")
    result = ingest.handle(TOPIC, json.dumps(good).encode())
    assert result is not None and not result.duplicate  # ingest goes on
