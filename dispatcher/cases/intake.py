"""Intake: events into cases. An ``opened`` event opens a case (or joins the open case at its
spot, or links to a recent one as a repeat), ``updated`` refreshes it, ``cleared`` records the
camera seeing the spot free and verifies a handled case; in batches, each event stored once."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contract import EventState, ViolationEvent, ViolationKind
from contract.geometry import same_spot
from dispatcher.cases.actions import Actions
from dispatcher.cases.core import (
    CAMERA,
    OWNER_PREFIX,
    SYSTEM,
    UNLOCATED,
    IngestResult,
    chain_rows,
    link_evidence,
    said,
    subscriptions_of,
)
from dispatcher.cases.spots import (
    Batch,
    Pending,
    SpotCase,
    event_box,
    evidence_of,
    place_of,
    placement,
    spot_columns,
)
from dispatcher.cases.views import city_payload
from dispatcher.db import (
    CaseRow,
    CaseTransitionRow,
    EventRow,
    NotificationRow,
    OutboundRow,
    QuarantineRow,
    TimerRow,
    insert_rows,
    now,
)
from dispatcher.grid import Shop
from dispatcher.lifecycle import OPEN_STATES, CaseState, Role
from dispatcher.routing import Route, route
from i18n import Msg

FINISHED = (CaseState.closed.value, CaseState.void.value)  # nothing more is done on such a case
log = logging.getLogger(__name__)


class Intake(Actions):
    """Events into cases: placed on the map, checked against what is stored, applied in batches."""

    def place(self, event: ViolationEvent) -> ViolationEvent:
        """The event with its micro-grid: its own, else the one whose area holds its location,
        else its shop's; ``UNLOCATED`` when none (the case then waits to be dispatched by hand)."""
        if event.micro_grid is not None:
            return event
        found = self.grid.locate(event.location.lon, event.location.lat) if event.location else None
        shop = self.grid.shop(event.shop_id) if event.shop_id else None
        if found is None and shop is not None:
            found = shop.micro_grid
        return event.model_copy(update={"micro_grid": found or UNLOCATED})

    def ingest(self, event: ViolationEvent) -> IngestResult:
        """Store ``event`` once and apply it; a repeated event_id changes nothing."""
        return self.ingest_many([event])[0]

    def ingest_many(self, events: list[ViolationEvent], retries: int = 3) -> list[IngestResult]:
        """Store and apply a batch of events in one transaction (in their order); repeated
        event_ids, within the batch or already stored, change nothing. If another dispatcher
        stored some of them meanwhile, or opened a case for one of their violations, the batch
        is retried one event at a time, and a lone event again (it then finds that case)."""
        events = [self.place(e) for e in events]
        try:
            with self.sessions() as session:
                batch = Batch.load(session, events, self.dedup.repeat_window_days)
                results: list[IngestResult | None] = [None] * len(events)
                for index, reason in batch.refusals(events).items():
                    log.warning("quarantined event %s: %s", events[index].event_id, reason)
                    session.add(QuarantineRow(topic=events[index].topic(), reason=reason,
                                              payload=events[index].model_dump_json().encode()))
                    results[index] = IngestResult(False, None, False, refused=reason)
                # shop fronts whose owner is told first take the careful path (one at a time)
                kept = [i for i in range(len(events)) if results[i] is None and not self._owner_shop(events[i])]
                fresh = [kept[i] for i in batch.fresh_openings([events[i] for i in kept], self.dedup.spot_iou)]
                for index, result in zip(fresh, self._open_many(session, [events[i] for i in fresh]), strict=True):
                    results[index] = result
                pending = {i: self._apply(session, e, batch) for i, e in enumerate(events) if results[i] is None}
                session.flush()
                refs: dict[tuple[int, str], str] = {}
                for i, p in pending.items():
                    results[i] = p.result()
                for i, result in enumerate(results):
                    if result is not None and result.case_id is not None and not result.refused:
                        for sha, role in evidence_of(events[i]):
                            refs.setdefault((result.case_id, sha), role)
                link_evidence(session, refs)
                session.commit()
                return results  # type: ignore[return-value]
        except IntegrityError:
            if len(events) > 1:
                return [self.ingest(event) for event in events]
            with self.sessions() as session:
                if session.get(EventRow, str(events[0].event_id)) is not None:
                    return [IngestResult(True, None, False)]
            if retries <= 0:
                raise
            return self.ingest_many(events, retries - 1)

    def _open_many(self, session: Session, events: list[ViolationEvent]) -> list[IngestResult]:
        """The common case in bulk: each event opens a new case. Set-based inserts write the
        same rows ``_open_case`` would (case, event, audit trail, accept timer, notifications)."""
        if not events:
            return []
        at = now()
        routes = [route(self.grid, e.micro_grid) for e in events]
        case_rows = [
            {**self._case_columns(event, target), "opened_at": at, "repeat_count": 0, "escalation_level": 0,
             "state": (CaseState.dispatched if target.worker_id else CaseState.reported).value,
             "assignee_id": target.worker_id}
            for event, target in zip(events, routes, strict=True)
        ]
        # Set-based inserts (not the ORM's bulk path, which here went row by row).
        ids = insert_rows(session, CaseRow, case_rows, ids=True)
        event_rows, audit, timers, notes = [], [], [], []
        accept_due = {kind: self.escalation.accept_due(kind, at) for kind in {e.kind.value for e in events}}
        subs = subscriptions_of(session, sorted({r.worker_id for r in routes if r.worker_id}))
        for event, target, case_id in zip(events, routes, ids, strict=True):
            event_rows.append({"event_id": str(event.event_id), "state": event.state.value,
                               "observed_at": event.observed_at, **placement(event),
                               "payload": event.model_dump(mode="json"), "case_id": case_id, "received_at": at})
            audit.append({"case_id": case_id, "action": "report", "from_state": None, "to_state": "reported",
                          "actor_id": CAMERA, "actor_role": Role.system.value, "reason": None,
                          "data": {"event_id": str(event.event_id)}, "at": at})
            if target.worker_id is None:
                log.warning("case %s: %s", case_id, target.note)
                continue
            audit.append({"case_id": case_id, "action": "dispatch", "from_state": "reported",
                          "to_state": "dispatched", "actor_id": SYSTEM, "actor_role": Role.system.value,
                          "reason": str(target.note), "at": at,
                          "data": {"assignee_id": target.worker_id, "said": said(target.note)}})
            timers.append({"case_id": case_id, "purpose": "accept", "due_at": accept_due[event.kind.value]})
            notes += [{**row, "case_id": case_id, "attempts": 0, "created_at": at, "updated_at": at}
                      for row in chain_rows(self.grid, target.worker_id, subs[target.worker_id])]
        outbound = [{"target": "city", "case_id": case_id, "topic": "case.opened", "status": "pending",
                     "attempts": 0, "next_attempt_at": at, "created_at": at,
                     "payload": city_payload("case.opened", row, self.town_words, self.timezone)}
                    for case_id, row in zip(ids, case_rows, strict=True)] if self.city_webhook else []
        for model, rows in ((EventRow, event_rows), (CaseTransitionRow, audit), (TimerRow, timers),
                            (OutboundRow, outbound)):
            insert_rows(session, model, rows)
        to_send: dict[int, list[int]] = {}
        for note_id, note in zip(insert_rows(session, NotificationRow, notes, ids=True), notes, strict=True):
            if note["channel"] != "inbox" and note["status"] == "pending":
                to_send.setdefault(note["case_id"], []).append(note_id)
        return [IngestResult(False, case_id, True, tuple(to_send.get(case_id, ()))) for case_id in ids]

    def _apply(self, session: Session, event: ViolationEvent, batch: Batch) -> Pending:
        event_id = str(event.event_id)
        if event_id in batch.seen_events:
            return Pending(None, False, [], duplicate=True)
        batch.seen_events.add(event_id)
        violation_id = str(event.violation_id)
        case = batch.cases.get(violation_id)
        opened = False
        notifications: list[NotificationRow] = []
        if case is None and event.state is not EventState.cleared:
            case = self._open_case_at_spot(session, event, batch)
            if case is not None:  # the same spot already has an open case: join it
                self._record(session, case, "join", CaseState(case.state), CaseState(case.state), CAMERA,
                             Role.system, Msg("another detection at the same spot"),
                             {"violation_id": violation_id, "event_id": event_id})
                case.cleared_at = None  # the spot is taken again: an earlier "free" no longer holds
            else:
                case, notifications = self._open_case(session, event, batch)
                opened = True
            batch.cases[violation_id] = case
            earlier_clear = batch.cleared.get(violation_id)
            if earlier_clear is not None:  # events arrived out of order
                earlier_clear.case = case
                self._camera_cleared(session, case, earlier_clear.observed_at, violation_id)
        elif case is not None:
            if event.state is EventState.cleared:
                if event.snapshot:  # the camera's after image: the spot seen free
                    case.cleared_snapshot_url = event.snapshot.url
                    case.cleared_snapshot_sha256 = event.snapshot.sha256
                self._camera_cleared(session, case, event.observed_at, violation_id)
            elif (case.state in FINISHED and case.cleared_at is not None and event.observed_at > case.cleared_at):
                # The camera saw the spot free, the case was finished, and now something stands
                # there again under the same violation (the edge's rejoin window joins a bike
                # parked where one just left): a new case, linked to this one as a repeat.
                case, notifications = self._open_case(session, event, batch, case_key=event_id)
                opened = True
                batch.cases[violation_id] = case
            else:
                if case.cleared_at is not None and event.observed_at > case.cleared_at:
                    case.cleared_at = None  # seen standing again after the camera saw it gone
                case.dwell_s = max(case.dwell_s, event.dwell_s)
                if event.snapshot:
                    case.snapshot_url, case.snapshot_sha256 = event.snapshot.url, event.snapshot.sha256
        row = EventRow(
            event_id=event_id,
            state=event.state.value,
            observed_at=event.observed_at,
            **placement(event),
            payload=event.model_dump(mode="json"),
            case=case,
        )
        session.add(row)
        if event.state is EventState.cleared and case is None:
            batch.cleared[violation_id] = row
        return Pending(case, opened, notifications)

    def _open_case(
        self, session: Session, event: ViolationEvent, batch: Batch | None = None, case_key: str | None = None
    ) -> tuple[CaseRow, list[NotificationRow]]:
        """A new case for ``event``; ``case_key`` stands for its violation id where that
        violation already has a (finished) case: each case's key is unique."""
        target = route(self.grid, event.micro_grid)
        prior = self._recent_case_at_spot(event, batch) if batch else None
        columns = self._case_columns(event, target)
        if case_key is not None:
            columns["violation_id"] = case_key
        case = CaseRow(
            **columns,
            state=CaseState.reported.value,
            repeat_of=prior.id if prior else None,
            repeat_count=prior.repeat_count + 1 if prior else 0,
            opened_at=now(),
        )
        session.add(case)
        self._tell_city(session, case, "case.opened")
        if batch is not None:
            batch.spots.setdefault((case.edge_id, case.camera_id, case.zone_id), []).append(SpotCase.of(case))
        data: dict[str, Any] = {"event_id": str(event.event_id)}
        if prior is not None:
            data.update(repeat_of=prior.id, repeat_count=case.repeat_count)
        self._record(session, case, "report", None, CaseState.reported, CAMERA, Role.system,
                     Msg("repeat offence at this spot (case {id})", id=prior.id) if prior else None, data)
        shop = self._owner_first(event, case)
        if shop is not None:
            return case, self._notify_owner(session, case, shop)
        if target.worker_id is None:
            log.warning("case for violation %s: %s", case.violation_id, target.note)
            return case, []
        return case, self._dispatch(session, case, target.worker_id, SYSTEM, Role.system, target.note, batch)

    def _owner_shop(self, event: ViolationEvent) -> Shop | None:
        """The shop of a cross-door trading event whose owner has a phone, when the town gives
        owners a grace period."""
        shop = self.grid.shop(event.shop_id) if event.shop_id else None
        if (shop is None or not shop.phone or self.shop_notice.grace_min <= 0
                or event.kind is not ViolationKind.cross_door_trading):
            return None
        return shop

    def _owner_first(self, event: ViolationEvent, case: CaseRow) -> Shop | None:
        """The shop whose owner is told first: :meth:`_owner_shop`, unless this is a repeat
        offence the town dispatches at once."""
        if case.repeat_count > 0 and self.shop_notice.repeat_skips_grace:
            return None
        return self._owner_shop(event)

    def _notify_owner(self, session: Session, case: CaseRow, shop: Shop) -> list[NotificationRow]:
        """The rectification notice (整改通知) by SMS to the owner, and the grace period's timer;
        when it fires with the strip still taken, the case is dispatched (dispatcher/cases/delivery.py)."""
        self._transition(session, case, "notify_owner", SYSTEM, Role.system,
                         Msg("rectification notice to {owner} of {shop}", owner=shop.owner, shop=shop.name),
                         {"shop_id": shop.id})
        note = NotificationRow(person_id=f"{OWNER_PREFIX}{shop.id}", channel="sms", address=f"sms:{shop.phone}",
                               position=0, status="pending", attempts=0)
        case.notifications.append(note)
        session.flush()
        return [note]

    def _case_columns(self, event: ViolationEvent, target: Route) -> dict[str, Any]:
        """What a new case takes from its opening event and its route, on either ingest path."""
        return {
            **placement(event),
            "event_code": self.event_codes.get(event.kind),
            "shop_id": event.shop_id,
            "lon": event.location.lon if event.location else None,
            "lat": event.location.lat if event.location else None,
            "worker_id": target.worker_id,
            "leader_id": target.leader_id,
            "department_id": self.grid.departments.get(event.kind),
            "routing_note": str(target.note),
            "dwell_s": event.dwell_s,
            "objects": [o.model_dump(mode="json") for o in event.objects],
            **spot_columns(event),
            "snapshot_url": event.snapshot.url if event.snapshot else None,
            "snapshot_sha256": event.snapshot.sha256 if event.snapshot else None,
            "before_url": event.before.url if event.before else None,
            "before_sha256": event.before.sha256 if event.before else None,
        }

    def _same_spot(self, spot: SpotCase, event: ViolationEvent) -> bool:
        """Spots are looked up per camera zone; a shop front's zone is one spot (the shop), any
        other zone holds as many spots as boxes that do not overlap."""
        return event.shop_id is not None or same_spot(spot.bbox, event_box(event), self.dedup.spot_iou)

    def _open_case_at_spot(self, session: Session, event: ViolationEvent, batch: Batch) -> CaseRow | None:
        spot = next((s for s in batch.spots.get(place_of(event), [])
                     if CaseState(s.state) in OPEN_STATES and self._same_spot(s, event)), None)
        return spot.load(session) if spot else None

    def _recent_case_at_spot(self, event: ViolationEvent, batch: Batch) -> SpotCase | None:
        closed = [s for s in batch.spots.get(place_of(event), [])
                  if s.state == CaseState.closed.value and s.closed_at is not None and self._same_spot(s, event)]
        return max(closed, key=lambda s: s.closed_at, default=None)

    def _camera_cleared(self, session: Session, case: CaseRow, at: datetime, violation_id: str) -> None:
        """The camera saw one violation's spot free. The case counts as cleared once every
        violation joined to it has cleared: its latest event says so (a stop the camera missed
        for a while clears, then goes on with an ``updated`` event, and clears again)."""
        rows = session.execute(select(EventRow.violation_id, EventRow.state, EventRow.observed_at)
                               .where(EventRow.case_id == case.id)).all()
        latest: dict[str, tuple[bool, datetime, str]] = {}  # a violation's opened event comes first, whenever seen
        for v, state, observed_at in [*rows, (violation_id, "cleared", at)]:
            key = (state != "opened", observed_at, state)
            if v not in latest or key[:2] >= latest[v][:2]:
                latest[v] = key
        if any(state != "cleared" for _, _, state in latest.values()):
            return
        case.cleared_at = at
        if case.state == CaseState.owner_notified.value:  # the shop put it right within its grace
            self._transition(session, case, "self_correct", CAMERA, Role.system,
                             Msg("the camera saw the shop front clear within the grace period"), {})
        elif case.state == CaseState.handled.value:
            self._transition(session, case, "verify", CAMERA, Role.system, Msg("the camera sees the spot free"), {})
