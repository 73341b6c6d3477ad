"""Cases: an ``opened`` event opens a case routed to the micro-grid's worker; ``cleared``
records that the camera saw the spot free again. Every event is stored once, by event_id.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from contract import EventState, ViolationEvent
from dispatcher.db import CaseRow, EventRow, NotificationRow, PushSubscriptionRow, now
from dispatcher.grid import Grid
from dispatcher.routing import route

log = logging.getLogger(__name__)


class CaseActionError(ValueError):
    """An action that does not apply to the case in its present state."""


@dataclass(frozen=True)
class IngestResult:
    duplicate: bool
    case_id: int | None
    opened: bool
    notification_ids: tuple[int, ...] = ()


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


def case_summary(case: CaseRow) -> dict[str, Any]:
    return {
        "id": case.id,
        "violation_id": case.violation_id,
        "kind": case.kind,
        "state": case.state,
        "edge_id": case.edge_id,
        "camera_id": case.camera_id,
        "zone_id": case.zone_id,
        "micro_grid": case.micro_grid,
        "worker_id": case.worker_id,
        "leader_id": case.leader_id,
        "routing_note": case.routing_note,
        "started_at": case.started_at.isoformat(),
        "opened_at": case.opened_at.isoformat(),
        "acknowledged_at": case.acknowledged_at.isoformat() if case.acknowledged_at else None,
        "resolved_at": case.resolved_at.isoformat() if case.resolved_at else None,
        "resolution_note": case.resolution_note,
        "cleared_at": case.cleared_at.isoformat() if case.cleared_at else None,
        "dwell_s": case.dwell_s,
        "objects": case.objects,
        "snapshot_url": case.snapshot_url,
        "snapshot_sha256": case.snapshot_sha256,
    }


class CaseService:
    def __init__(self, sessions: sessionmaker, grid: Grid) -> None:
        self.sessions = sessions
        self.grid = grid

    def ingest(self, event: ViolationEvent) -> IngestResult:
        """Store ``event`` once and apply it; a repeated event_id changes nothing."""
        with self.sessions() as session:
            try:
                result = self._apply(session, event)
                session.commit()
                return result
            except IntegrityError:
                session.rollback()
                if session.get(EventRow, str(event.event_id)) is not None:
                    return IngestResult(True, None, False)
                raise

    def _apply(self, session: Session, event: ViolationEvent) -> IngestResult:
        if session.get(EventRow, str(event.event_id)) is not None:
            return IngestResult(True, None, False)
        violation_id = str(event.violation_id)
        case = session.scalar(select(CaseRow).where(CaseRow.violation_id == violation_id))
        opened = False
        notifications: list[NotificationRow] = []
        if case is None and event.state is not EventState.cleared:
            case, notifications = self._open_case(session, event)
            opened = True
            earlier_clear = session.scalar(
                select(EventRow).where(EventRow.violation_id == violation_id, EventRow.state == "cleared")
            )
            if earlier_clear is not None:  # events arrived out of order
                case.cleared_at = earlier_clear.observed_at
                earlier_clear.case_id = case.id
        elif case is not None:
            if event.state is EventState.cleared:
                case.cleared_at = event.observed_at
            else:
                case.dwell_s = max(case.dwell_s, event.dwell_s)
                if event.snapshot:
                    case.snapshot_url, case.snapshot_sha256 = event.snapshot.url, event.snapshot.sha256
        session.add(
            EventRow(
                event_id=str(event.event_id),
                state=event.state.value,
                observed_at=event.observed_at,
                **_placement(event),
                payload=event.model_dump(mode="json"),
                case_id=case.id if case is not None else None,
            )
        )
        session.flush()
        return IngestResult(False, case.id if case else None, opened, tuple(n.id for n in notifications))

    def _open_case(self, session: Session, event: ViolationEvent) -> tuple[CaseRow, list[NotificationRow]]:
        target = route(self.grid, event.micro_grid)
        case = CaseRow(
            state="open",
            **_placement(event),
            worker_id=target.worker_id,
            leader_id=target.leader_id,
            routing_note=target.note,
            opened_at=now(),
            dwell_s=event.dwell_s,
            objects=[o.model_dump(mode="json") for o in event.objects],
            snapshot_url=event.snapshot.url if event.snapshot else None,
            snapshot_sha256=event.snapshot.sha256 if event.snapshot else None,
        )
        session.add(case)
        session.flush()
        notifications: list[NotificationRow] = []
        if target.worker_id:
            notifications.append(
                NotificationRow(case_id=case.id, person_id=target.worker_id, channel="inbox", status="delivered")
            )
            subs = session.scalars(
                select(PushSubscriptionRow).where(PushSubscriptionRow.person_id == target.worker_id)
            ).all()
            for sub in subs:
                notifications.append(
                    NotificationRow(
                        case_id=case.id, person_id=target.worker_id, channel="webpush",
                        status="pending", subscription_id=sub.id,
                    )
                )
        else:
            log.warning("case %s: %s", case.id, target.note)
        session.add_all(notifications)
        session.flush()
        return case, notifications

    def _act(self, case_id: int, person_id: str, allowed_from: tuple[str, ...], apply: Any) -> dict[str, Any]:
        with self.sessions() as session:
            case = session.get(CaseRow, case_id, with_for_update=True)
            if case is None:
                raise LookupError(f"no case {case_id}")
            if person_id not in (case.worker_id, case.leader_id):
                raise PermissionError(f"{person_id} is not assigned to case {case_id}")
            if case.state not in allowed_from:
                raise CaseActionError(f"case {case_id} is {case.state}")
            apply(case)
            session.commit()
            return case_summary(case)

    def acknowledge(self, case_id: int, person_id: str) -> dict[str, Any]:
        def apply(case: CaseRow) -> None:
            case.state, case.acknowledged_at = "acknowledged", now()
        return self._act(case_id, person_id, ("open",), apply)

    def resolve(self, case_id: int, person_id: str, note: str | None) -> dict[str, Any]:
        def apply(case: CaseRow) -> None:
            case.state, case.resolved_at, case.resolution_note = "resolved", now(), note
            if case.acknowledged_at is None:
                case.acknowledged_at = case.resolved_at
        return self._act(case_id, person_id, ("open", "acknowledged"), apply)
