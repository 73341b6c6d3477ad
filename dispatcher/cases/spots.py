"""What one ingest transaction looks up once for all its events: the spots (open and recently
closed cases per edge, camera and zone), the cases of known violations, who reported each
violation, and events seen before; and which events simply open a new case."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from contract import EventState, ViolationEvent
from contract.geometry import same_spot
from dispatcher.cases.core import IngestResult, deliveries, subscriptions_of
from dispatcher.db import (
    CaseRow,
    EventRow,
    NotificationRow,
    now,
)
from dispatcher.lifecycle import OPEN_STATES, CaseState
from dispatcher.screen import images


def evidence_of(event: ViolationEvent) -> list[tuple[str, str]]:
    """(sha256, role) of each image the event carries: the case will reference them."""
    found = []
    for where, image in images(event):
        if where == "snapshot":
            role = "cleared" if event.state is EventState.cleared else "snapshot"
        else:
            role = "before" if where == "before" else "crop"
        found.append((image.sha256, role))
    return found


def placement(event: ViolationEvent) -> dict[str, Any]:
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


def event_box(event: ViolationEvent) -> Sequence[float] | None:
    return event.objects[0].bbox if event.objects else None


def spot_box(x1: float | None, y1: float | None, x2: float | None, y2: float | None) -> Sequence[float] | None:
    return None if x1 is None or y1 is None or x2 is None or y2 is None else (x1, y1, x2, y2)


def spot_columns(event: ViolationEvent) -> dict[str, float | None]:
    box = event_box(event)
    return dict(zip(("spot_x1", "spot_y1", "spot_x2", "spot_y2"), box or (None,) * 4, strict=True))


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
        return cls(case.id, case.state, spot_box(case.spot_x1, case.spot_y1, case.spot_x2, case.spot_y2),
                   case.closed_at, case.repeat_count, case)

    def load(self, session: Session) -> CaseRow:
        if self.row is None:
            self.row = session.get(CaseRow, self.id)
        return self.row

Place = tuple[str, str, str]  # (edge, camera, zone): where spots are looked up


def place_of(event: ViolationEvent) -> Place:
    return event.edge_id, event.camera_id, event.zone_id


def comparable(payload: dict[str, Any]) -> dict[str, Any]:
    """An event's stored form without what the dispatcher fills in (the micro-grid)."""
    return {k: v for k, v in payload.items() if k != "micro_grid"}


@dataclass
class Batch:
    """What one ingest transaction looked up once for all its events."""

    seen_events: set[str]
    cases: dict[str, CaseRow]  # violation id -> its case (its own, or the one it joined)
    cleared: dict[str, EventRow]
    subs: dict[str, list[int]]
    spots: dict[Place, list[SpotCase]]  # -> open or recently closed cases
    owners: dict[str, tuple[str, str]]  # violation id -> the (edge, camera) that reported it
    stored: dict[str, dict[str, Any]]  # event id -> its stored payload (for events seen again)

    @classmethod
    def load(cls, session: Session, events: list[ViolationEvent], repeat_window_days: float) -> Batch:
        event_ids = [str(e.event_id) for e in events]
        violation_ids = list({str(e.violation_id) for e in events})
        stored = dict(session.execute(select(EventRow.event_id, EventRow.payload).where(  # type: ignore[arg-type]
            EventRow.event_id.in_(event_ids))).all())
        rows = session.execute(select(EventRow.violation_id, EventRow.case_id, EventRow.edge_id, EventRow.camera_id)
                               .where(EventRow.violation_id.in_(violation_ids))).all()
        owners = {vid: (edge, camera) for vid, _, edge, camera in rows}
        links = {(vid, cid) for vid, cid, _, _ in rows if cid is not None}
        by_id = {c.id: c for c in session.scalars(select(CaseRow).where(CaseRow.id.in_({c for _, c in links})))}
        cases = {vid: by_id[cid] for vid, cid in sorted(links, key=lambda link: link[1])}  # the newest case wins
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
                    SpotCase(cid, state, spot_box(x1, y1, x2, y2), closed_at, repeats))
        return cls(set(stored), cases, cleared, {}, spots, owners, stored)

    def refusals(self, events: list[ViolationEvent]) -> dict[int, str]:
        """Indexes of events that must not touch any case, with the reason: a violation
        another box or camera reported (one box may not update or clear another's cases), or
        an event id seen before with other content (a replay is the same, to the letter)."""
        refused: dict[int, str] = {}
        first: dict[str, ViolationEvent] = {}  # each event id's first event in this batch
        for i, e in enumerate(events):
            vid, eid = str(e.violation_id), str(e.event_id)
            owner = self.owners.setdefault(vid, (e.edge_id, e.camera_id))
            if owner != (e.edge_id, e.camera_id):
                refused[i] = (f"violation {vid} was reported by {owner[0]}/{owner[1]}, "
                              f"not {e.edge_id}/{e.camera_id}")
                continue
            # Only an event id seen before is compared (a new one is not dumped here for nothing).
            earlier = self.stored.get(eid) or (first[eid].model_dump(mode="json") if eid in first else None)
            first.setdefault(eid, e)
            if earlier is None:
                continue
            payload, earlier = comparable(e.model_dump(mode="json")), comparable(earlier)
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
            at_place.setdefault(place_of(e), []).append(e)

        def crowded(e: ViolationEvent) -> bool:
            place = place_of(e)
            if e.shop_id is not None:  # a shop front is one spot
                return bool(self.spots.get(place)) or len(at_place[place]) > 1
            box = event_box(e)
            if box is None:
                return False
            return (any(same_spot(s.bbox, box, spot_iou) for s in self.spots.get(place, []))
                    or any(o is not e and same_spot(event_box(o), box, spot_iou) for o in at_place[place]))

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
            self.subs.update(subscriptions_of(session, [person_id]))
        return self.subs[person_id]


@dataclass
class Pending:
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
