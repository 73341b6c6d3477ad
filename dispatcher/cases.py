"""Cases: an ``opened`` event opens a case, dispatched to the micro-grid's worker; people move
it through the closed loop (``lifecycle``); ``cleared`` records that the camera saw the spot
free and verifies a handled case. Every event is stored once, by event_id; every action is
written to the audit trail; deadlines are stored as timers in the same transaction.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from contract import EventState, ViolationEvent, ViolationKind
from dispatcher.config import DedupConfig, DispatcherConfig, EscalationConfig
from dispatcher.db import (
    CaseEvidenceRow,
    CaseRow,
    CaseTransitionRow,
    EventRow,
    EvidenceUploadRow,
    NotificationRow,
    OutboundRow,
    PushSubscriptionRow,
    QuarantineRow,
    TimerRow,
    insert_rows,
    now,
)
from dispatcher.grid import ChannelRef, Grid
from dispatcher.lifecycle import OPEN_STATES, CaseState, Role, TransitionError, next_state
from dispatcher.routing import Route, route
from dispatcher.screen import images

log = logging.getLogger(__name__)

CAMERA = "camera"
SYSTEM = "system"


def uploader_key(person_id: str | None, token_id: int | None = None) -> str:
    """How an upload's uploader is recorded: a person, or a machine token."""
    return f"person:{person_id}" if person_id is not None else f"token:{token_id}"


class CaseActionError(ValueError):
    """An action that does not apply to the case in its present state."""


@dataclass(frozen=True)
class IngestResult:
    duplicate: bool
    case_id: int | None
    opened: bool
    deliveries: tuple[int, ...] = ()  # notifications a channel must still deliver (Web Push)
    refused: str | None = None  # quarantined instead of applied, and why


@dataclass(frozen=True)
class ActionResult:
    case: dict[str, Any]
    deliveries: tuple[int, ...] = ()


def deliveries(notes: list[NotificationRow]) -> tuple[int, ...]:
    """Ids of the notifications to send now: the first place of each chain (the inbox needs
    no sending; later places wait on standby until the earlier fail)."""
    return tuple(n.id for n in notes if n.channel != "inbox" and n.status == "pending")


def chain_rows(grid: Grid, person_id: str, subscriptions: list[int]) -> list[dict[str, Any]]:
    """The notification rows that tell ``person_id`` about a case: the inbox entry, then the
    person's channels in their order (``position`` is the index in the grid file's list); the
    first present is pending, the rest on standby. Web Push has a row per subscribed phone and
    no row without one."""
    person = grid.person(person_id)
    chain = person.channels if person else [ChannelRef(type="webpush")]
    rows: list[dict[str, Any]] = [{"person_id": person_id, "channel": "inbox", "status": "unread", "position": 0,
                                   "address": None, "subscription_id": None}]
    for position, ref in enumerate(chain):
        if ref.type == "webpush":
            targets = [(f"webpush:{sub}", sub) for sub in subscriptions]
        else:
            targets = [(ref.address(person), None)] if person else []
        status = "pending" if len(rows) == 1 else "standby"
        rows += [{"person_id": person_id, "channel": ref.type, "status": status, "position": position,
                  "address": address, "subscription_id": sub} for address, sub in targets]
    return rows


CITY_FIELDS = ("violation_id", "kind", "event_code", "state", "camera_id", "zone_id", "micro_grid", "worker_id",
               "started_at", "opened_at", "closed_at", "void_reason", "repeat_count", "snapshot_url")


def city_payload(topic: str, values: dict[str, Any]) -> dict[str, Any]:
    """What the city platform is told about a case (the case id is added when it is sent)."""
    case = {k: values.get(k) for k in CITY_FIELDS}
    return {"topic": topic, "case": {k: v.isoformat() if isinstance(v, datetime) else v for k, v in case.items()}}


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two [x1, y1, x2, y2] boxes."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def same_spot(a: Sequence[float] | None, b: Sequence[float] | None, min_iou: float) -> bool:
    """Two boxes of one camera and zone mark the same spot when they overlap this much."""
    return a is not None and b is not None and box_iou(a, b) >= min_iou


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def case_summary(case: CaseRow) -> dict[str, Any]:
    out: dict[str, Any] = {
        c: getattr(case, c)
        for c in (
            "id", "violation_id", "kind", "event_code", "state", "repeat_of", "repeat_count", "edge_id", "camera_id",
            "zone_id", "micro_grid", "shop_id", "lon", "lat", "worker_id", "leader_id", "department_id", "assignee_id",
            "escalation_level",
            "routing_note", "handling_note", "after_photo_sha256", "verified_by", "rating", "void_reason", "dwell_s",
            "objects", "snapshot_url", "snapshot_sha256", "before_url", "before_sha256", "cleared_snapshot_url",
            "cleared_snapshot_sha256",
        )
    }
    for c in ("started_at", "opened_at", "accepted_at", "handled_at", "verified_at", "closed_at", "handle_due_at",
              "cleared_at", "delivered_at"):
        out[c] = _iso(getattr(case, c))
    return out


def transition_summary(row: CaseTransitionRow) -> dict[str, Any]:
    return {"action": row.action, "from": row.from_state, "to": row.to_state, "actor_id": row.actor_id,
            "actor_role": row.actor_role, "reason": row.reason, "data": row.data, "at": row.at.isoformat()}


UNLOCATED = "unlocated"  # the micro-grid of an event no area or shop places
MAX_EXTEND_MIN = 30 * 24 * 60.0  # a deadline moves at most 30 days at a time
SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _evidence_of(event: ViolationEvent) -> list[tuple[str, str]]:
    """(sha256, role) of each image the event carries: the case will reference them."""
    found = []
    for where, image in images(event):
        if where == "snapshot":
            role = "cleared" if event.state is EventState.cleared else "snapshot"
        else:
            role = "before" if where == "before" else "crop"
        found.append((image.sha256, role))
    return found


def link_evidence(session: Session, refs: dict[tuple[int, str], str]) -> None:
    """Record that case ``id`` references image ``sha256`` (as ``role``), once each."""
    if not refs:
        return
    existing = set(session.execute(select(CaseEvidenceRow.case_id, CaseEvidenceRow.sha256).where(
        CaseEvidenceRow.case_id.in_({c for c, _ in refs}), CaseEvidenceRow.sha256.in_({h for _, h in refs}))).all())
    insert_rows(session, CaseEvidenceRow, [{"case_id": c, "sha256": h, "role": role}
                                           for (c, h), role in refs.items() if (c, h) not in existing])


def _placement(event: ViolationEvent) -> dict[str, Any]:
    """The columns an event and its case share: which violation, of what kind, where, since when."""
    return {
        "violation_id": str(event.violation_id),
        "kind": event.kind.value,
        "edge_id": event.edge_id,
        "camera_id": event.camera_id,
        "zone_id": event.zone_id,
        "micro_grid": event.micro_grid,
        "started_at": event.started_at,
    }


def _event_box(event: ViolationEvent) -> Sequence[float] | None:
    return event.objects[0].bbox if event.objects else None


def _spot_box(x1: float | None, y1: float | None, x2: float | None, y2: float | None) -> Sequence[float] | None:
    return None if x1 is None or y1 is None or x2 is None or y2 is None else (x1, y1, x2, y2)


def _spot_columns(event: ViolationEvent) -> dict[str, float | None]:
    box = _event_box(event)
    return dict(zip(("spot_x1", "spot_y1", "spot_x2", "spot_y2"), box or (None,) * 4, strict=True))


def _subscriptions(session: Session, people: list[str]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {p: [] for p in people}
    rows = session.execute(
        select(PushSubscriptionRow.person_id, PushSubscriptionRow.id).where(PushSubscriptionRow.person_id.in_(people))
    )
    for person_id, sub_id in rows:
        found[person_id].append(sub_id)
    return found


@dataclass
class SpotCase:
    """What the spot check needs of a case; ``row`` once the full case is loaded or new."""

    id: int | None
    state: str
    bbox: Sequence[float] | None
    closed_at: datetime | None
    repeat_count: int
    row: CaseRow | None = None

    @classmethod
    def of(cls, case: CaseRow) -> SpotCase:
        return cls(case.id, case.state, _spot_box(case.spot_x1, case.spot_y1, case.spot_x2, case.spot_y2),
                   case.closed_at, case.repeat_count, case)

    def load(self, session: Session) -> CaseRow:
        if self.row is None:
            self.row = session.get(CaseRow, self.id)
        return self.row


Place = tuple[str, str, str]  # (edge, camera, zone): where spots are looked up


def _place(event: ViolationEvent) -> Place:
    return event.edge_id, event.camera_id, event.zone_id


def _comparable(payload: dict[str, Any]) -> dict[str, Any]:
    """An event's stored form without what the dispatcher fills in (the micro-grid)."""
    return {k: v for k, v in payload.items() if k != "micro_grid"}


@dataclass
class _Batch:
    """What one ingest transaction looked up once for all its events."""

    seen_events: set[str]
    cases: dict[str, CaseRow]  # violation id -> its case (its own, or the one it joined)
    cleared: dict[str, EventRow]
    subs: dict[str, list[int]]
    spots: dict[Place, list[SpotCase]]  # -> open or recently closed cases
    owners: dict[str, tuple[str, str]]  # violation id -> the (edge, camera) that reported it
    stored: dict[str, dict[str, Any]]  # event id -> its stored payload (for events seen again)

    @classmethod
    def load(cls, session: Session, events: list[ViolationEvent], repeat_window_days: float) -> _Batch:
        event_ids = [str(e.event_id) for e in events]
        violation_ids = list({str(e.violation_id) for e in events})
        stored = dict(session.execute(select(EventRow.event_id, EventRow.payload).where(  # type: ignore[arg-type]
            EventRow.event_id.in_(event_ids))).all())
        rows = session.execute(select(EventRow.violation_id, EventRow.case_id, EventRow.edge_id, EventRow.camera_id)
                               .where(EventRow.violation_id.in_(violation_ids))).all()
        owners = {vid: (edge, camera) for vid, _, edge, camera in rows}
        links = {(vid, cid) for vid, cid, _, _ in rows if cid is not None}
        by_id = {c.id: c for c in session.scalars(select(CaseRow).where(CaseRow.id.in_({c for _, c in links})))}
        cases = {vid: by_id[cid] for vid, cid in links}
        cleared = {e.violation_id: e for e in session.scalars(
            select(EventRow).where(EventRow.violation_id.in_(violation_ids), EventRow.state == "cleared"))}
        cameras = list({e.camera_id for e in events if e.objects})
        since = now() - timedelta(days=repeat_window_days)
        spots: dict[Place, list[SpotCase]] = {}
        if cameras:  # only the columns the spot check needs, not whole cases
            for cid, edge, camera, zone, state, x1, y1, x2, y2, closed_at, repeats in session.execute(select(
                    CaseRow.id, CaseRow.edge_id, CaseRow.camera_id, CaseRow.zone_id, CaseRow.state, CaseRow.spot_x1,
                    CaseRow.spot_y1,
                    CaseRow.spot_x2, CaseRow.spot_y2, CaseRow.closed_at, CaseRow.repeat_count).where(
                    CaseRow.camera_id.in_(cameras),
                    or_(CaseRow.state.in_([s.value for s in OPEN_STATES]),
                        and_(CaseRow.state == CaseState.closed.value, CaseRow.closed_at >= since)))):
                spots.setdefault((edge, camera, zone), []).append(
                    SpotCase(cid, state, _spot_box(x1, y1, x2, y2), closed_at, repeats))
        return cls(set(stored), cases, cleared, {}, spots, owners, stored)

    def refusals(self, events: list[ViolationEvent]) -> dict[int, str]:
        """Indexes of events that must not touch any case, with the reason: a violation
        another box or camera reported (one box may not update or clear another's cases), or
        an event id seen before with other content (a replay is the same, to the letter)."""
        refused: dict[int, str] = {}
        for i, e in enumerate(events):
            vid, eid = str(e.violation_id), str(e.event_id)
            owner = self.owners.setdefault(vid, (e.edge_id, e.camera_id))
            if owner != (e.edge_id, e.camera_id):
                refused[i] = (f"violation {vid} was reported by {owner[0]}/{owner[1]}, "
                              f"not {e.edge_id}/{e.camera_id}")
                continue
            payload = _comparable(e.model_dump(mode="json"))
            earlier = _comparable(self.stored.setdefault(eid, payload))
            if earlier != payload:
                changed = sorted(k for k in payload.keys() | earlier.keys() if payload.get(k) != earlier.get(k))
                refused[i] = f"event {eid} was received before with other content ({', '.join(changed)})"
        return refused

    def fresh_openings(self, events: list[ViolationEvent], spot_iou: float) -> list[int]:
        """Indexes of events that simply open a new case: ``opened`` (or a first ``updated``)
        for a violation unknown so far and alone in the batch, with no stored ``cleared``, at a
        spot where no open or recently closed case stands and no other event of the batch is.
        Everything else takes the careful path (join, repeat, out-of-order)."""
        per_violation: dict[str, int] = {}
        at_place: dict[Place, list[ViolationEvent]] = {}
        for e in events:
            vid = str(e.violation_id)
            per_violation[vid] = per_violation.get(vid, 0) + 1
            at_place.setdefault(_place(e), []).append(e)

        def crowded(e: ViolationEvent) -> bool:
            place = _place(e)
            if e.shop_id is not None:  # a shop front is one spot
                return bool(self.spots.get(place)) or len(at_place[place]) > 1
            box = _event_box(e)
            if box is None:
                return False
            return (any(same_spot(s.bbox, box, spot_iou) for s in self.spots.get(place, []))
                    or any(o is not e and same_spot(_event_box(o), box, spot_iou) for o in at_place[place]))

        fresh = []
        for i, e in enumerate(events):
            vid = str(e.violation_id)
            if (e.state is not EventState.cleared and per_violation[vid] == 1 and vid not in self.cases
                    and vid not in self.cleared and str(e.event_id) not in self.seen_events and not crowded(e)):
                fresh.append(i)
                self.seen_events.add(str(e.event_id))
        return fresh

    def subscriptions(self, session: Session, person_id: str) -> list[int]:
        if person_id not in self.subs:
            self.subs.update(_subscriptions(session, [person_id]))
        return self.subs[person_id]


@dataclass
class _Pending:
    """An event applied in a batch; its ids exist once the batch is flushed."""

    case: CaseRow | None
    opened: bool
    notifications: list[NotificationRow]
    duplicate: bool = False

    def result(self) -> IngestResult:
        if self.duplicate:
            return IngestResult(True, None, False)
        return IngestResult(False, self.case.id if self.case else None, self.opened,
                            deliveries(self.notifications))


class CaseService:
    def __init__(
        self, sessions: sessionmaker, grid: Grid, escalation: EscalationConfig | None = None,
        dedup: DedupConfig | None = None, event_codes: dict[ViolationKind, str] | None = None,
    ) -> None:
        self.sessions = sessions
        self.grid = grid
        self.escalation = escalation or EscalationConfig()
        self.dedup = dedup or DedupConfig()
        self.event_codes = event_codes if event_codes is not None else DispatcherConfig().event_codes
        self.city_webhook = False  # set by the dispatcher when a city platform is configured

    # --- ingest -------------------------------------------------------------------------

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
                batch = _Batch.load(session, events, self.dedup.repeat_window_days)
                results: list[IngestResult | None] = [None] * len(events)
                for index, reason in batch.refusals(events).items():
                    log.warning("quarantined event %s: %s", events[index].event_id, reason)
                    session.add(QuarantineRow(topic=events[index].topic(), reason=reason,
                                              payload=events[index].model_dump_json().encode()))
                    results[index] = IngestResult(False, None, False, refused=reason)
                kept = [i for i in range(len(events)) if results[i] is None]
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
                        for sha, role in _evidence_of(events[i]):
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
        subs = _subscriptions(session, sorted({r.worker_id for r in routes if r.worker_id}))
        for event, target, case_id in zip(events, routes, ids, strict=True):
            event_rows.append({"event_id": str(event.event_id), "state": event.state.value,
                               "observed_at": event.observed_at, **_placement(event),
                               "payload": event.model_dump(mode="json"), "case_id": case_id, "received_at": at})
            audit.append({"case_id": case_id, "action": "report", "from_state": None, "to_state": "reported",
                          "actor_id": CAMERA, "actor_role": Role.system.value, "reason": None,
                          "data": {"event_id": str(event.event_id)}, "at": at})
            if target.worker_id is None:
                log.warning("case %s: %s", case_id, target.note)
                continue
            audit.append({"case_id": case_id, "action": "dispatch", "from_state": "reported",
                          "to_state": "dispatched", "actor_id": SYSTEM, "actor_role": Role.system.value,
                          "reason": target.note, "data": {"assignee_id": target.worker_id}, "at": at})
            timers.append({"case_id": case_id, "purpose": "accept", "due_at": accept_due[event.kind.value]})
            notes += [{**row, "case_id": case_id, "attempts": 0, "created_at": at, "updated_at": at}
                      for row in chain_rows(self.grid, target.worker_id, subs[target.worker_id])]
        outbound = [{"target": "city", "case_id": case_id, "topic": "case.opened", "status": "pending",
                     "attempts": 0, "next_attempt_at": at, "created_at": at,
                     "payload": city_payload("case.opened", row)}
                    for case_id, row in zip(ids, case_rows, strict=True)] if self.city_webhook else []
        for model, rows in ((EventRow, event_rows), (CaseTransitionRow, audit), (TimerRow, timers),
                            (OutboundRow, outbound)):
            insert_rows(session, model, rows)
        to_send: dict[int, list[int]] = {}
        for note_id, note in zip(insert_rows(session, NotificationRow, notes, ids=True), notes, strict=True):
            if note["channel"] != "inbox" and note["status"] == "pending":
                to_send.setdefault(note["case_id"], []).append(note_id)
        return [IngestResult(False, case_id, True, tuple(to_send.get(case_id, ()))) for case_id in ids]

    def _apply(self, session: Session, event: ViolationEvent, batch: _Batch) -> _Pending:
        event_id = str(event.event_id)
        if event_id in batch.seen_events:
            return _Pending(None, False, [], duplicate=True)
        batch.seen_events.add(event_id)
        violation_id = str(event.violation_id)
        case = batch.cases.get(violation_id)
        opened = False
        notifications: list[NotificationRow] = []
        if case is None and event.state is not EventState.cleared:
            case = self._open_case_at_spot(session, event, batch)
            if case is not None:  # the same spot already has an open case: join it
                self._record(session, case, "join", CaseState(case.state), CaseState(case.state), CAMERA,
                             Role.system, "another detection at the same spot",
                             {"violation_id": violation_id, "event_id": event_id})
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
            else:
                case.dwell_s = max(case.dwell_s, event.dwell_s)
                if event.snapshot:
                    case.snapshot_url, case.snapshot_sha256 = event.snapshot.url, event.snapshot.sha256
        row = EventRow(
            event_id=event_id,
            state=event.state.value,
            observed_at=event.observed_at,
            **_placement(event),
            payload=event.model_dump(mode="json"),
            case=case,
        )
        session.add(row)
        if event.state is EventState.cleared and case is None:
            batch.cleared[violation_id] = row
        return _Pending(case, opened, notifications)

    def _open_case(
        self, session: Session, event: ViolationEvent, batch: _Batch | None = None
    ) -> tuple[CaseRow, list[NotificationRow]]:
        target = route(self.grid, event.micro_grid)
        prior = self._recent_case_at_spot(event, batch) if batch else None
        case = CaseRow(
            **self._case_columns(event, target),
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
                     f"repeat offence at this spot (case {prior.id})" if prior else None, data)
        if target.worker_id is None:
            log.warning("case for violation %s: %s", case.violation_id, target.note)
            return case, []
        return case, self._dispatch(session, case, target.worker_id, SYSTEM, Role.system, target.note, batch)

    def _case_columns(self, event: ViolationEvent, target: Route) -> dict[str, Any]:
        """What a new case takes from its opening event and its route, on either ingest path."""
        return {
            **_placement(event),
            "event_code": self.event_codes.get(event.kind),
            "shop_id": event.shop_id,
            "lon": event.location.lon if event.location else None,
            "lat": event.location.lat if event.location else None,
            "worker_id": target.worker_id,
            "leader_id": target.leader_id,
            "department_id": self.grid.departments.get(event.kind),
            "routing_note": target.note,
            "dwell_s": event.dwell_s,
            "objects": [o.model_dump(mode="json") for o in event.objects],
            **_spot_columns(event),
            "snapshot_url": event.snapshot.url if event.snapshot else None,
            "snapshot_sha256": event.snapshot.sha256 if event.snapshot else None,
            "before_url": event.before.url if event.before else None,
            "before_sha256": event.before.sha256 if event.before else None,
        }

    def _dispatch(
        self, session: Session, case: CaseRow, worker_id: str, actor: str, role: Role, reason: str | None,
        batch: _Batch | None = None,
    ) -> list[NotificationRow]:
        previous = CaseState(case.state)
        case.state, case.worker_id, case.assignee_id, case.escalation_level = (
            CaseState.dispatched.value, worker_id, worker_id, 0)
        self._record(session, case, "dispatch" if previous is CaseState.reported else "reroute", previous,
                     CaseState.dispatched, actor, role, reason, {"assignee_id": worker_id})
        self._cancel_timers(session, case)
        self._start_timer(session, case, "accept", self.escalation.accept_due(case.kind, now()))
        return self.notify(session, case, worker_id, batch)

    def _same_spot(self, spot: SpotCase, event: ViolationEvent) -> bool:
        """Spots are looked up per camera zone; a shop front's zone is one spot (the shop), any
        other zone holds as many spots as boxes that do not overlap."""
        return event.shop_id is not None or same_spot(spot.bbox, _event_box(event), self.dedup.spot_iou)

    def _open_case_at_spot(self, session: Session, event: ViolationEvent, batch: _Batch) -> CaseRow | None:
        spot = next((s for s in batch.spots.get(_place(event), [])
                     if CaseState(s.state) in OPEN_STATES and self._same_spot(s, event)), None)
        return spot.load(session) if spot else None

    def _recent_case_at_spot(self, event: ViolationEvent, batch: _Batch) -> SpotCase | None:
        closed = [s for s in batch.spots.get(_place(event), [])
                  if s.state == CaseState.closed.value and s.closed_at is not None and self._same_spot(s, event)]
        return max(closed, key=lambda s: s.closed_at, default=None)

    def _camera_cleared(self, session: Session, case: CaseRow, at: datetime, violation_id: str) -> None:
        """The camera saw one violation's spot free. The case counts as cleared once every
        violation joined to it has cleared."""
        states = session.execute(
            select(EventRow.violation_id, EventRow.state).where(EventRow.case_id == case.id)).all()
        cleared = {v for v, s in states if s == "cleared"} | {violation_id}
        if {v for v, _ in states} - cleared:
            return
        case.cleared_at = at
        if case.state == CaseState.handled.value:
            self._transition(session, case, "verify", CAMERA, Role.system, "the camera sees the spot free", {})

    # --- people's actions ---------------------------------------------------------------

    def role_of(self, person_id: str) -> Role:
        person = self.grid.person(person_id)
        if person is None:
            raise PermissionError(f"{person_id!r} is not a person in the grid file")
        return {"department": Role.leader, "admin": Role.dispatcher}.get(person.role) or Role(person.role)

    def _may_act(self, case: CaseRow, person_id: str, role: Role) -> bool:
        if role in (Role.dispatcher, Role.system, Role.resident):
            return True
        if role is Role.leader:
            cell = self.grid.micro_grid(case.micro_grid)
            return person_id in (case.leader_id, case.assignee_id) or (cell is not None and cell.leader == person_id)
        return person_id in (case.worker_id, case.assignee_id)

    def act(
        self, case_id: int, action: str, person_id: str, reason: str | None = None,
        data: dict[str, Any] | None = None, role: Role | None = None,
    ) -> ActionResult:
        """Apply one action of the closed loop. Raises LookupError (no case), PermissionError
        (not this person's case or role), or CaseActionError (not from this state)."""
        role = role or self.role_of(person_id)
        data = dict(data or {})
        with self.sessions() as session:
            case = session.get(CaseRow, case_id, with_for_update=True)
            if case is None:
                raise LookupError(f"no case {case_id}")
            if not self._may_act(case, person_id, role):
                raise PermissionError(f"{person_id} is not responsible for case {case_id}")
            notes: list[NotificationRow] = []
            try:
                if action == "reroute":
                    notes = self._reroute(session, case, person_id, role, reason, data)
                elif action == "escalate":
                    notes = self._escalate_by_hand(session, case, person_id, role, reason)
                else:
                    self._transition(session, case, action, person_id, role, reason, data)
            except TransitionError as exc:
                raise CaseActionError(str(exc)) from None
            session.flush()
            result = ActionResult(case_summary(case), deliveries(notes))
            session.commit()
            return result

    def _reroute(
        self, session: Session, case: CaseRow, actor: str, role: Role, reason: str | None, data: dict[str, Any]
    ) -> list[NotificationRow]:
        next_state("reroute", CaseState(case.state), role, reason)
        grid_id = str(data.get("micro_grid") or case.micro_grid)
        target = route(self.grid, grid_id)
        if target.worker_id is None:
            raise TransitionError(target.note)
        case.micro_grid, case.leader_id, case.routing_note = grid_id, target.leader_id, target.note
        return self._dispatch(session, case, target.worker_id, actor, role, reason)

    def _escalate_by_hand(
        self, session: Session, case: CaseRow, actor: str, role: Role, reason: str | None
    ) -> list[NotificationRow]:
        """A dispatcher or leader hands the case one level up now: to the micro-grid leader,
        then to the line department for its kind."""
        next_state("escalate", CaseState(case.state), role, reason)
        level, target = (1, case.leader_id) if case.escalation_level == 0 else (2, case.department_id)
        if case.escalation_level >= 2 or target is None or target == case.assignee_id:
            raise TransitionError("nobody further up to escalate to")
        case.escalation_level, case.assignee_id = level, target
        self._record(session, case, "escalate", CaseState(case.state), CaseState(case.state), actor, role, reason,
                     {"assignee_id": target, "level": level, "by_hand": True})
        return self.notify(session, case, target)

    def _transition(
        self, session: Session, case: CaseRow, action: str, actor: str, role: Role, reason: str | None,
        data: dict[str, Any],
    ) -> None:
        before = CaseState(case.state)
        after = next_state(action, before, role, reason)
        at = now()
        if action == "accept":
            case.accepted_at = at
            case.delivered_at = case.delivered_at or at
            self._cancel_timers(session, case)
            case.handle_due_at = self.escalation.handle_due(case.kind, at)
            self._start_timer(session, case, "handle", case.handle_due_at)
        elif action == "handle":
            photo = data.get("after_photo_sha256")
            if photo is not None:
                if not (isinstance(photo, str) and SHA256.match(photo)):
                    raise TransitionError("after_photo_sha256 must be the photo's 64 lower-case hex digits")
                if session.get(EvidenceUploadRow, (photo, uploader_key(actor))) is None:
                    raise TransitionError("after_photo_sha256 must be a photo you uploaded")
                link_evidence(session, {(case.id, photo): "after"})
            case.handled_at, case.handling_note, case.after_photo_sha256 = at, reason, photo
            self._cancel_timers(session, case)
        elif action == "return":
            self._cancel_timers(session, case)
        elif action == "verify":
            case.verified_at, case.verified_by = at, actor
        elif action == "reject":
            case.handle_due_at = self.escalation.handle_due(case.kind, at)
            self._start_timer(session, case, "handle", case.handle_due_at)
        elif action == "rate":
            rating = data.get("rating")
            if not isinstance(rating, int) or not 1 <= rating <= 5:
                raise TransitionError("rate needs a rating from 1 to 5")
            case.rating = rating
        elif action == "extend":
            minutes = data.get("minutes")
            if (not isinstance(minutes, int | float) or isinstance(minutes, bool) or not math.isfinite(minutes)
                    or not 0 < minutes <= MAX_EXTEND_MIN):
                raise TransitionError(f"extend needs minutes > 0 and at most {MAX_EXTEND_MIN:.0f}")
            base = max(case.handle_due_at or at, at)
            case.handle_due_at = self.escalation.deadline(case.kind, base, minutes)
            self._cancel_timers(session, case, "handle")
            self._start_timer(session, case, "handle", case.handle_due_at)
        elif action in ("close", "void"):
            case.closed_at = at
            case.void_reason = reason if action == "void" else None
            self._cancel_timers(session, case)
        case.state = after.value
        if action in ("close", "void"):
            self._tell_city(session, case, "case.closed" if action == "close" else "case.voided")
        self._record(session, case, action, before, after, actor, role, reason, data)

    # --- delivery -----------------------------------------------------------------------

    def mark_delivered(self, session: Session, case_id: int, person_id: str, how: str) -> bool:
        """A channel confirmed, or ``person_id`` opened the case: if they are the one who must
        act now, the case counts as delivered (no delivery escalation). Returns whether it did."""
        case = session.get(CaseRow, case_id)
        if case is None or case.assignee_id != person_id or case.delivered_at is not None:
            return False
        case.delivered_at = now()
        self._record(session, case, "delivered", CaseState(case.state), CaseState(case.state), person_id,
                     Role.system, how, {})
        return True

    def delivery_check(self, session: Session, case_id: int, person_id: str, due: datetime) -> bool:
        """Nothing confirmed delivery to ``person_id`` yet: at ``due`` a ``deliver`` timer tries
        their next channel or, at the chain's end, escalates (fired once, by the scheduler)."""
        case = session.get(CaseRow, case_id)
        if (case is None or case.assignee_id != person_id or case.delivered_at is not None
                or case.state != CaseState.dispatched.value):
            return False
        self._cancel_timers(session, case, "deliver")
        self._start_timer(session, case, "deliver", due)
        return True

    def _next_channel(self, session: Session, case: CaseRow) -> list[NotificationRow]:
        """The assignee's next standby place, made pending; none when the chain is spent."""
        standby = session.scalars(select(NotificationRow).where(
            NotificationRow.case_id == case.id, NotificationRow.person_id == case.assignee_id,
            NotificationRow.status == "standby").order_by(NotificationRow.position, NotificationRow.id)).all()
        place = [n for n in standby if n.position == standby[0].position] if standby else []
        for note in place:
            note.status, note.updated_at = "pending", now()
        return place

    # --- escalation ---------------------------------------------------------------------

    def escalate(self, session: Session, case: CaseRow, purpose: str, instance: str) -> list[NotificationRow]:
        """A deadline passed: hand the case one level up and tell that person. Runs inside
        the transaction that claimed the timer, so it happens once."""
        if CaseState(case.state) not in OPEN_STATES:
            return []
        if purpose == "deliver":
            if case.delivered_at is not None or case.state != CaseState.dispatched.value:
                return []  # reached after all (opened, a late receipt) or already taken up
            following = self._next_channel(session, case)
            if following:
                return following  # the chain goes on; escalation only once it is spent
        stand_in = self._stand_in_for(case)
        first_step = purpose in ("accept", "deliver")
        if first_step and case.escalation_level == 0 and stand_in is not None:
            level, target = 0, stand_in  # the worker did not accept: the micro-grid's stand-in first
        elif first_step and case.escalation_level == 0:
            level, target = 1, case.leader_id  # nor the stand-in: the micro-grid leader
        elif case.escalation_level < 2:
            level, target = 2, case.department_id  # the leader did not, or it was not handled in time
        else:
            level, target = case.escalation_level, None
        if target is None:
            self._record(session, case, "escalate", CaseState(case.state), CaseState(case.state), instance,
                         Role.system, f"{purpose} deadline passed; nobody further up to escalate to", {})
            return []
        case.escalation_level, case.assignee_id = level, target
        reason = {"accept": "not accepted in time", "deliver": "no channel reached the assignee"}.get(
            purpose, "not handled by the deadline")
        self._record(session, case, "escalate", CaseState(case.state), CaseState(case.state), instance,
                     Role.system, reason, {"assignee_id": target, "level": level, "timer": purpose,
                                           "stand_in": target == stand_in})
        if first_step and level < 2:
            self._cancel_timers(session, case, "accept")
            self._start_timer(session, case, "accept", self.escalation.accept_due(case.kind, now()))
        return self.notify(session, case, target)

    def _stand_in_for(self, case: CaseRow) -> str | None:
        """The micro-grid's stand-in, if the case has not been with them yet and they are not away."""
        cell = self.grid.micro_grid(case.micro_grid)
        if cell is None or cell.stand_in is None or self.grid.away(cell.stand_in, now()):
            return None
        if cell.stand_in in (case.assignee_id, case.worker_id):
            return None
        return cell.stand_in

    # --- helpers ------------------------------------------------------------------------

    def _record(
        self, session: Session, case: CaseRow, action: str, before: CaseState | None, after: CaseState, actor: str,
        role: Role, reason: str | None, data: dict[str, Any],
    ) -> None:
        case.transitions.append(CaseTransitionRow(
            action=action, from_state=before.value if before else None, to_state=after.value,
            actor_id=actor, actor_role=role.value, reason=reason, data=data, at=now(),
        ))

    def _tell_city(self, session: Session, case: CaseRow, topic: str) -> None:
        if self.city_webhook:
            values = {k: getattr(case, k) for k in CITY_FIELDS}
            session.add(OutboundRow(target="city", case=case, topic=topic, payload=city_payload(topic, values)))

    def _start_timer(self, session: Session, case: CaseRow, purpose: str, due: datetime) -> None:
        case.timers.append(TimerRow(purpose=purpose, due_at=due))

    def _cancel_timers(self, session: Session, case: CaseRow, purpose: str | None = None) -> None:
        if case.id is None:
            return  # a case not yet stored has no stored timers
        query = update(TimerRow).where(
            TimerRow.case_id == case.id, TimerRow.fired_at.is_(None), TimerRow.cancelled_at.is_(None)
        )
        if purpose:
            query = query.where(TimerRow.purpose == purpose)
        session.execute(query.values(cancelled_at=now()))

    def notify(
        self, session: Session, case: CaseRow, person_id: str, batch: _Batch | None = None
    ) -> list[NotificationRow]:
        """An inbox entry for ``person_id`` and one Web Push per subscribed device. The rows
        get their ids when the session flushes."""
        subs = batch.subscriptions(session, person_id) if batch else _subscriptions(session, [person_id])[person_id]
        rows = [NotificationRow(**row) for row in chain_rows(self.grid, person_id, subs)]
        case.notifications.extend(rows)
        case.delivered_at = None  # a new person to reach
        return rows
