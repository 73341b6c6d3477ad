"""The dispatcher's ingest fuzzed with hypothesis: random bytes, random JSON and sample events
with fields replaced, dropped or added (NaN, infinities and huge numbers included), times
decades away, image links of any scheme and host, on right and wrong topics; events replayed
with other content, and other boxes naming the same violations. Whatever arrives, ingest
never raises; each message is either stored as an event or kept in quarantine with a
reason and counted, and a good event afterwards still opens its case."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from builders import sample_event
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from dispatcher.db import EventRow, QuarantineRow
from gridpatrol.demo import DispatcherThread

TOPIC = "gridpatrol/v1/box-01/cam-001/events"
FIELDS = list(sample_event())

json_values = st.recursive(  # json.dumps writes NaN and Infinity as the bare words JSON has no place for
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
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


times = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)).map(
    lambda t: t.isoformat())
links = st.builds(lambda scheme, host, name: f"{scheme}://{host}/api/v1/evidence/{name}.jpg",
                  st.sampled_from(["http", "https", "file", "javascript", "data", "ftp"]),
                  st.sampled_from(["d", "evil.example", "127.0.0.1:8080", ""]),
                  st.sampled_from(["a" * 64, "b" * 64, "../x", ""]))
@st.composite
def bounded_event(draw: st.DrawFn) -> tuple[str, bytes]:
    """A sample event with a time, a number or an image link out of its bounds."""
    event = sample_event(event_id=str(uuid.uuid4()), violation_id=str(uuid.uuid4()))
    what = draw(st.sampled_from(["started_at", "observed_at", "when", "dwell_s", "bbox", "snapshot"]))
    if what in ("started_at", "observed_at"):
        event[what] = draw(times)
    elif what == "when":  # the whole event moved in time, by days or centuries
        at = datetime.now(UTC) + timedelta(days=draw(st.floats(min_value=-36500, max_value=36500)))
        event["started_at"], event["observed_at"] = at.isoformat(), (at + timedelta(minutes=2)).isoformat()
    elif what == "dwell_s":
        event["dwell_s"] = draw(st.floats() | st.integers(min_value=-(10**30), max_value=10**30))
    elif what == "bbox":
        event["objects"][0]["bbox"] = draw(st.lists(st.floats(), min_size=4, max_size=4))
    else:
        event["snapshot"] = {**event["snapshot"], "url": draw(links)}
    return TOPIC, json.dumps(event).encode()


@st.composite
def replays(draw: st.DrawFn) -> list[tuple[str, bytes]]:
    """A batch with an event and then the same event again: as it was, with other content,
    or named by another box (its own topic, the first box's violation)."""
    event = sample_event(event_id=str(uuid.uuid4()), violation_id=str(uuid.uuid4()))
    batch = [(TOPIC, json.dumps(event).encode())]
    for how in draw(st.lists(st.sampled_from(["same", "changed", "other box"]), min_size=1, max_size=3)):
        again = dict(event)
        if how == "changed":
            again["dwell_s"] = draw(st.floats(min_value=121, max_value=1e5))
        elif how == "other box":
            again |= {"edge_id": "box-02", "event_id": str(uuid.uuid4()), "state": "cleared"}
        batch.append((f"gridpatrol/v1/{again['edge_id']}/{again['camera_id']}/events", json.dumps(again).encode()))
    return batch


messages = st.one_of(
    st.tuples(
        st.sampled_from([TOPIC, "gridpatrol/v1/box-01/cam-002/events", "gridpatrol/v1/x", ""]),
        st.one_of(st.binary(max_size=300), json_values.map(lambda v: json.dumps(v).encode()), mutated_event()),
    ),
    bounded_event(),
)


def _bad(**fields: object) -> tuple[str, bytes]:
    event = {**sample_event(event_id=str(uuid.uuid4()), violation_id=str(uuid.uuid4())), **fields}
    return TOPIC, json.dumps(event).encode()


# One batch of each class the test names, run every time besides what hypothesis draws (a run
# may draw no NaN among its 400 batches).
EACH_CLASS = [
    _bad(dwell_s=float("nan")),
    _bad(started_at="1990-01-01T00:00:00Z", observed_at="1990-01-01T00:02:00Z"),
    _bad(started_at="2200-01-01T00:00:00Z", observed_at="2200-01-01T00:02:00Z"),
    _bad(snapshot={"url": "https://elsewhere.example/x.jpg", "sha256": "a" * 64, "width": 640, "height": 480}),
]


def _replayed() -> list[tuple[str, bytes]]:
    event = sample_event(event_id=str(uuid.uuid4()), violation_id=str(uuid.uuid4()))
    changed = {**event, "dwell_s": 999.0}
    other = {**event, "edge_id": "box-02", "event_id": str(uuid.uuid4()), "state": "cleared"}
    return [(TOPIC, json.dumps(event).encode()), (TOPIC, json.dumps(changed).encode()),
            (f"gridpatrol/v1/box-02/{event['camera_id']}/events", json.dumps(other).encode())]


def test_ingest_keeps_or_quarantines_whatever_arrives(dispatcher: DispatcherThread) -> None:
    ingest = dispatcher.services.ingest
    sessions = dispatcher.services.cases.sessions
    seen = {"examples": 0, "stored": 0, "quarantined": 0}

    @settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(messages, min_size=1, max_size=5) | replays())
    @example(EACH_CLASS)
    @example(_replayed())
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
    with sessions() as s:
        reasons = " | ".join(s.scalars(select(QuarantineRow.reason)))
    for refused in ("was received before with other content", "was reported by box-01/cam-001, not box-02",
                    "older than", "ahead of the dispatcher's clock", "is not an evidence link", "finite number"):
        assert refused in reasons, refused  # each class of bad input was generated and refused
    print(f"fuzz: {seen['examples']} batches, {seen['stored']} events stored, {seen['quarantined']} quarantined")
    good = sample_event(event_id=str(uuid.uuid4()), violation_id=str(uuid.uuid4()), camera_id="cam-001")
    result = ingest.handle(TOPIC, json.dumps(good).encode())
    assert result is not None and not result.duplicate  # ingest goes on
