"""The case service on SQLite and PostgreSQL alike: cases opened, joined and cleared by the
camera's events, the closed loop's audit trail, rerouting, escalation timers that survive
restarts and fire once, and spots shared between dispatchers."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from builders import at_spot, case_service, later_state, opened_event, violation_event
from sqlalchemy import func, select, true

from contract import EventState, Snapshot, ViolationEvent, event_id_for
from dispatcher.cases import Batch, CaseActionError
from dispatcher.db import (
    CaseRow,
    CaseTransitionRow,
    EvidenceUploadRow,
    NotificationRow,
    PushSubscriptionRow,
    TimerRow,
    now,
)
from dispatcher.escalation import EscalationScheduler


def event(state: str, **overrides: object) -> ViolationEvent:
    """The sample violation's event in ``state``; later states observed at minute 10."""
    opened = violation_event(**overrides)
    if state == "opened":
        return opened
    return later_state(opened, EventState(state), observed_at=opened.observed_at.replace(minute=10))


def test_opened_then_cleared_marks_the_case_cleared_by_the_camera(database_url: str) -> None:
    service = case_service(database_url)
    with service.sessions() as s:
        s.add(PushSubscriptionRow(person_id="w-017", endpoint="https://push.example/x", p256dh="k" * 20, auth="a" * 16))
        s.commit()
    first = service.ingest(event("opened"))
    assert first.opened and not first.duplicate and len(first.deliveries) == 1  # the push; the inbox needs none
    assert service.ingest(event("opened")).duplicate
    free = Snapshot(url="http://x/api/v1/evidence/b.jpg", sha256="b" * 64, width=640, height=480)
    assert not service.ingest(event("cleared").model_copy(update={"snapshot": free})).opened
    with service.sessions() as s:
        case = s.get(CaseRow, first.case_id)
        assert case.state == "dispatched" and case.cleared_at is not None and case.cleared_at.minute == 10
        assert (case.cleared_snapshot_sha256, case.snapshot_sha256) == ("b" * 64, "a" * 64)  # now and spot free
        assert sorted(n.channel for n in s.query(NotificationRow)) == ["inbox", "webpush"]

def test_an_updated_reminder_refreshes_the_case_not_a_new_one(database_url: str) -> None:
    service = case_service(database_url)
    first = service.ingest(event("opened"))
    reminder = event("opened").model_copy(update={
        "state": EventState.updated, "event_id": event_id_for(event("opened").violation_id, EventState.updated, 1),
        "dwell_s": 1800.0, "snapshot": Snapshot(url="http://x/api/v1/evidence/b.jpg", sha256="b" * 64,
                                                 width=640, height=480)})
    again = service.ingest(reminder)
    assert not again.opened and not again.duplicate and again.case_id == first.case_id and not again.deliveries
    with service.sessions() as s:
        case = s.get(CaseRow, first.case_id)
        assert (case.dwell_s, case.snapshot_sha256, case.state) == (1800.0, "b" * 64, "dispatched")
        assert s.query(CaseRow).count() == 1

def test_cleared_arriving_before_opened_still_ends_on_the_case(database_url: str) -> None:
    service = case_service(database_url)
    assert service.ingest(event("cleared")).case_id is None
    result = service.ingest(event("opened"))
    with service.sessions() as s:
        assert s.get(CaseRow, result.case_id).cleared_at is not None



def test_a_stop_the_camera_missed_for_a_while_clears_goes_on_and_clears_again(database_url: str) -> None:
    """The edge's one violation per stop: cleared when the camera lost the bike, an updated
    event under the same violation id when it is seen again, a second cleared (its own event
    id) when it is gone. The case follows: free, taken again, free; never a second case."""
    service = case_service(database_url)
    opened = event("opened")
    case_id = service.ingest(opened).case_id
    at = opened.observed_at
    service.ingest(later_state(opened, EventState.cleared, observed_at=at.replace(minute=10)))
    seen_again = later_state(opened, EventState.updated, observed_at=at.replace(minute=12))
    assert service.ingest(seen_again).case_id == case_id
    with service.sessions() as s:
        assert s.get(CaseRow, case_id).cleared_at is None  # standing again: the earlier "free" no longer holds
    gone = later_state(opened, EventState.cleared, observed_at=at.replace(minute=20),
                       event_id=event_id_for(opened.violation_id, EventState.cleared, 1))
    result = service.ingest(gone)
    assert not result.duplicate and result.case_id == case_id
    with service.sessions() as s:
        assert s.get(CaseRow, case_id).cleared_at.minute == 20
        assert s.query(CaseRow).count() == 1


def test_the_camera_seeing_the_spot_free_before_the_report_verifies_it_when_handled(database_url: str) -> None:
    """The loop closes in any order: the bike was moved and the camera said so before the
    worker reported the case handled; the report then finds the camera's verdict and the case
    is verified by the camera. A new detection at the spot undoes an earlier "free"."""
    service = case_service(database_url)
    case_id = service.ingest(event("opened")).case_id
    service.act(case_id, "accept", "w-017")
    service.ingest(event("cleared"))  # the camera sees the spot free first
    handled = service.act(case_id, "handle", "w-017", reason="moved to the rack").case
    assert handled["state"] == "verified" and handled["verified_by"] == "camera"
    steps = [(t["action"], t["actor_id"]) for t in service.detail(case_id, true())["timeline"]][-2:]
    assert steps == [("handle", "w-017"), ("verify", "camera")]

    other = case_service(database_url)
    second = other.ingest(at_spot(1, (100, 100, 160, 180))).case_id
    other.act(second, "accept", "w-017")
    other.ingest(later_state(at_spot(1, (100, 100, 160, 180)), EventState.cleared))
    other.ingest(at_spot(2, (102, 101, 161, 182)))  # another bike at the same spot joins the case
    assert other.act(second, "handle", "w-017", reason="done").case["state"] == "handled"  # not verified


def test_unknown_micro_grid_opens_a_case_for_manual_dispatch(database_url: str) -> None:
    service = case_service(database_url)
    result = service.ingest(event("opened", micro_grid="mg-999"))
    with service.sessions() as s:
        case = s.get(CaseRow, result.case_id)
        assert case.worker_id is None and "mg-999" in case.routing_note and "by hand" in case.routing_note
    assert result.deliveries == ()


def test_the_closed_loop_with_its_audit_trail(database_url: str) -> None:
    cases = case_service(database_url)
    event = opened_event()
    result = cases.ingest(event)
    assert cases.ingest(event).duplicate  # QoS 1 redelivery
    cid = result.case_id
    with pytest.raises(PermissionError):
        cases.act(cid, "accept", "w-018")  # another grid's worker
    with pytest.raises(CaseActionError, match="cannot handle a case that is dispatched"):
        cases.act(cid, "handle", "w-017")
    cases.act(cid, "accept", "w-017")
    with pytest.raises(CaseActionError, match="consult needs a reason"):
        cases.act(cid, "consult", "w-017")
    cases.act(cid, "consult", "w-017", reason="stall owner refuses; need market regulation")
    cases.act(cid, "resume", "l-017")
    with pytest.raises(CaseActionError, match="a photo you uploaded"):  # not this worker's upload
        cases.act(cid, "handle", "w-017", reason="bikes moved", data={"after_photo_sha256": "b" * 64})
    with cases.sessions() as session:
        session.add(EvidenceUploadRow(sha256="b" * 64, uploader="person:w-017"))
        session.commit()
    cases.act(cid, "handle", "w-017", reason="bikes moved", data={"after_photo_sha256": "b" * 64})
    cases.act(cid, "reject", "l-017", reason="one bike left behind the tree")
    cases.act(cid, "handle", "w-017", reason="last bike moved too")
    cleared = event.model_copy(update={"state": EventState.cleared,
                                       "event_id": event_id_for(event.violation_id, EventState.cleared)})
    cases.ingest(cleared)  # the camera sees the spot free: verified by the camera
    with pytest.raises(PermissionError):
        cases.act(cid, "rate", "w-017", data={"rating": 5})  # a worker does not rate their own work
    cases.act(cid, "rate", "d-01", data={"rating": 4})
    final = cases.act(cid, "close", "d-01").case
    assert (final["state"], final["verified_by"], final["rating"]) == ("closed", "camera", 4)
    with cases.sessions() as s:
        trail = [(t.action, t.from_state, t.to_state, t.actor_id) for t in
                 s.scalars(select(CaseTransitionRow).where(CaseTransitionRow.case_id == cid).order_by(
                     CaseTransitionRow.id))]
        timers = s.scalars(select(TimerRow).where(TimerRow.case_id == cid)).all()
    assert trail == [
        ("report", None, "reported", "camera"),
        ("dispatch", "reported", "dispatched", "system"),
        ("accept", "dispatched", "accepted", "w-017"),
        ("consult", "accepted", "consult", "w-017"),
        ("resume", "consult", "accepted", "l-017"),
        ("handle", "accepted", "handled", "w-017"),
        ("reject", "handled", "rework", "l-017"),
        ("handle", "rework", "handled", "w-017"),
        ("verify", "handled", "verified", "camera"),
        ("rate", "verified", "rated", "d-01"),
        ("close", "rated", "closed", "d-01"),
    ]
    assert all(t.fired_at is None for t in timers) and all(t.cancelled_at is not None for t in timers)


def test_wrong_grid_is_returned_and_rerouted_and_a_false_alarm_voided(database_url: str) -> None:
    cases = case_service(database_url)
    cid = cases.ingest(opened_event()).case_id
    with pytest.raises(CaseActionError, match="return needs a reason"):
        cases.act(cid, "return", "w-017")
    cases.act(cid, "return", "w-017", reason="that pavement belongs to grid 4")
    moved = cases.act(cid, "reroute", "l-017", reason="agreed", data={"micro_grid": "mg-018"})
    assert (moved.case["state"], moved.case["worker_id"], moved.case["micro_grid"]) == ("dispatched", "w-018", "mg-018")
    with cases.sessions() as s:  # the new worker is told
        assert s.scalar(select(func.count()).select_from(NotificationRow).where(NotificationRow.person_id == "w-018"))
    other = cases.ingest(opened_event(1)).case_id
    voided = cases.act(other, "void", "d-01", reason="a delivery van, not parked").case
    assert voided["state"] == "void" and voided["void_reason"] == "a delivery van, not parked"


def test_deadlines_escalate_worker_to_stand_in_to_leader_to_department_once_each(database_url: str) -> None:
    cases = case_service(database_url, accept_min=10, handle_min=60)
    cid = cases.ingest(opened_event()).case_id
    scheduler = EscalationScheduler(cases, lambda ids: None, instance_id="a")
    assert scheduler.run_due(now() + timedelta(minutes=5)) == 0
    assert scheduler.run_due(now() + timedelta(minutes=11)) == 1  # not accepted in 10 min: the stand-in
    with cases.sessions() as s:
        case = s.get(CaseRow, cid)
        assert (case.assignee_id, case.escalation_level) == ("w-019", 0)
    assert scheduler.run_due(now() + timedelta(minutes=21)) == 1  # nor by the stand-in: the leader
    with cases.sessions() as s:
        case = s.get(CaseRow, cid)
        assert (case.assignee_id, case.escalation_level) == ("l-017", 1)
    cases.act(cid, "accept", "l-017")  # the leader takes it in time; the handling clock starts
    assert scheduler.run_due(now() + timedelta(minutes=30)) == 0  # nothing fires twice, nothing cancelled fires
    assert scheduler.run_due(now() + timedelta(minutes=61)) == 1  # not handled in 60 min: department
    with cases.sessions() as s:
        case = s.get(CaseRow, cid)
        assert (case.assignee_id, case.escalation_level) == ("dep-urban", 2)
        escalations = s.scalars(select(CaseTransitionRow).where(CaseTransitionRow.action == "escalate")).all()
        assert [e.data["assignee_id"] for e in escalations] == ["w-019", "l-017", "dep-urban"]


def test_a_dispatcher_escalates_by_hand_one_level_at_a_time(database_url: str) -> None:
    cases = case_service(database_url)
    cid = cases.ingest(opened_event()).case_id
    with pytest.raises(CaseActionError, match="needs a reason"):
        cases.act(cid, "escalate", "d-01")
    with pytest.raises(PermissionError):
        cases.act(cid, "escalate", "w-017", reason="not mine")  # a worker cannot push it up
    first = cases.act(cid, "escalate", "d-01", reason="the shop owner threatened the worker")
    assert (first.case["assignee_id"], first.case["escalation_level"]) == ("l-017", 1)
    assert first.case["state"] == "dispatched"
    second = cases.act(cid, "escalate", "l-017", reason="needs urban management")
    assert (second.case["assignee_id"], second.case["escalation_level"]) == ("dep-urban", 2)
    with pytest.raises(CaseActionError, match="nobody further up"):
        cases.act(cid, "escalate", "d-01", reason="again")
    with cases.sessions() as s:
        steps = s.scalars(select(CaseTransitionRow).where(CaseTransitionRow.case_id == cid,
                                                          CaseTransitionRow.action == "escalate")).all()
        assert [(e.actor_id, e.data["assignee_id"], e.data["by_hand"]) for e in steps] == [
            ("d-01", "l-017", True), ("l-017", "dep-urban", True)]
        told = s.scalars(select(NotificationRow.person_id).where(NotificationRow.case_id == cid,
                                                                 NotificationRow.channel == "inbox")).all()
        assert told == ["w-017", "l-017", "dep-urban"]  # each one's inbox


def test_timers_survive_a_restart_and_two_instances_fire_each_once(database_url: str) -> None:
    first = case_service(database_url, accept_min=1)
    for n in range(40):
        first.ingest(opened_event(n))
    first.sessions.kw["bind"].dispose()  # the first dispatcher goes away

    # Two dispatchers come up on the same database after the deadlines passed. (Their own
    # policy is longer, so the leader's re-armed timers fall after the moment simulated here.)
    a, b = case_service(database_url, accept_min=10), case_service(database_url, accept_min=10)
    due = now() + timedelta(minutes=2)
    schedulers = [EscalationScheduler(a, lambda ids: None, instance_id="a", batch=1000),
                  EscalationScheduler(b, lambda ids: None, instance_id="b", batch=1000)]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(s: EscalationScheduler) -> None:
        start.wait()
        try:
            s.run_due(due)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in schedulers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert schedulers[0].fired + schedulers[1].fired == 40
    with a.sessions() as s:
        escalations = s.scalar(select(func.count()).select_from(CaseTransitionRow).where(
            CaseTransitionRow.action == "escalate"))
        levels = set(s.scalars(select(CaseRow.escalation_level)))
        firers = set(s.scalars(select(TimerRow.fired_by).where(TimerRow.fired_by.is_not(None))))
    assert escalations == 40 and levels == {0}  # each case went to mg-017's stand-in, once
    assert firers <= {"a", "b"}


def test_a_case_another_dispatcher_opens_meanwhile_is_joined_not_doubled(
        database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two dispatchers on a shared subscription get events of one violation: between one's
    look-up and its bulk insert the other opens the case. Found in bench/scale_sim.py, where
    PostgreSQL's COPY raised an error the retry did not know and the batch stayed unacknowledged."""
    here, other = case_service(database_url), case_service(database_url)
    first = opened_event(1)
    update = first.model_copy(update={"state": EventState.updated,
                                      "event_id": event_id_for(first.violation_id, EventState.updated, 1)})
    real_load = Batch.load.__func__
    raced: list[int | None] = []

    def load_while_the_other_dispatcher_opens(cls, session, events, days):  # type: ignore[no-untyped-def]
        batch = real_load(cls, session, events, days)
        if not raced:
            raced.append(None)
            raced[0] = other.ingest(update).case_id
        return batch

    monkeypatch.setattr(Batch, "load", classmethod(load_while_the_other_dispatcher_opens))
    result = here.ingest_many([first, opened_event(2)])
    assert raced[0] is not None
    assert (result[0].duplicate, result[0].opened, result[0].case_id) == (False, False, raced[0])
    assert result[1].opened
    with here.sessions() as s:
        assert s.scalar(select(func.count()).select_from(CaseRow).where(
            CaseRow.violation_id == str(first.violation_id))) == 1


@pytest.mark.parametrize("one_batch", [False, True])
def test_a_second_detection_at_an_open_spot_joins_its_case(database_url: str, one_batch: bool) -> None:
    cases = case_service(database_url)
    first, second = at_spot(1, (100, 100, 160, 180)), at_spot(2, (104, 102, 166, 184))  # IoU ~0.8
    elsewhere = at_spot(3, (400, 100, 460, 180))
    if one_batch:
        results = cases.ingest_many([first, second, elsewhere])
    else:
        results = [cases.ingest(first), cases.ingest(second), cases.ingest(elsewhere)]
    assert [r.opened for r in results] == [True, False, True]
    assert results[0].case_id == results[1].case_id != results[2].case_id
    cases.ingest(later_state(first, EventState.cleared))  # one bike gone, the other still stands
    with cases.sessions() as s:
        case = s.get(CaseRow, results[0].case_id)
        assert case.cleared_at is None
        assert [t.action for t in case.transitions] == ["report", "dispatch", "join"]
    cases.ingest(later_state(second, EventState.cleared))
    with cases.sessions() as s:
        assert s.get(CaseRow, results[0].case_id).cleared_at is not None


def test_a_repeat_offence_at_a_closed_spot_is_linked_and_counted(database_url: str) -> None:
    cases = case_service(database_url)
    spot = (100, 100, 160, 180)
    ids = []
    for n in range(3):
        cid = cases.ingest(at_spot(10 + n, spot, kind="cross_door_trading")).case_id
        ids.append(cid)
        cases.act(cid, "accept", "w-017")
        cases.act(cid, "handle", "w-017", reason="goods moved back inside")
        cases.act(cid, "verify", "l-017")
        cases.act(cid, "close", "l-017")
    with cases.sessions() as s:
        rows = [s.get(CaseRow, cid) for cid in ids]
        assert [(r.repeat_of, r.repeat_count) for r in rows] == [(None, 0), (ids[0], 1), (ids[1], 2)]
        assert {r.event_code for r in rows} == {"0504"}
    other = cases.ingest(at_spot(20, spot, camera="cam-200")).case_id
    with cases.sessions() as s:
        case = s.get(CaseRow, other)
        assert (case.repeat_of, case.repeat_count, case.event_code) == (None, 0, "0506")



def test_a_spot_taken_again_after_its_case_was_closed_opens_a_repeat_case(database_url: str) -> None:
    """The edge continues a violation when something comes to rest where one just left (its
    rejoin window), so a bike parked there after the first was taken away arrives as an
    updated event of the first violation. Once that case was closed, this is a new case,
    linked to the first as a repeat; its later events follow the new case."""
    service = case_service(database_url)
    opened = event("opened")
    first = service.ingest(opened).case_id
    at = opened.observed_at
    service.ingest(later_state(opened, EventState.cleared, observed_at=at.replace(minute=10)))
    service.act(first, "accept", "w-017")
    service.act(first, "handle", "w-017", reason="moved away")  # the camera saw it free: verified at once
    service.act(first, "close", "l-017")
    again = later_state(opened, EventState.updated, observed_at=at.replace(minute=11))
    result = service.ingest(again)
    assert result.case_id != first and result.opened
    with service.sessions() as s:
        second = s.get(CaseRow, result.case_id)
        assert (second.repeat_of, second.repeat_count, second.state) == (first, 1, "dispatched")
        assert s.get(CaseRow, first).state == "closed"
    gone = later_state(opened, EventState.cleared, observed_at=at.replace(minute=20),
                       event_id=event_id_for(opened.violation_id, EventState.cleared, 1))
    assert service.ingest(gone).case_id == result.case_id  # the new case follows the violation now
