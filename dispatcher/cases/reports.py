"""Cases from people, not only cameras: a worker's patrol report (巡查上报: photo, place, kind,
note) and the city hotline's tickets (12345) enter the same case flow as the camera's events:
placed by micro-grid or by place, routed, dispatched, escalated and assessed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from contract import ViolationKind
from dispatcher.cases.actions import Actions
from dispatcher.cases.core import SYSTEM, UNLOCATED, ActionResult, deliveries, link_evidence, own_photo
from dispatcher.cases.views import case_summary
from dispatcher.db import CaseRow, now
from dispatcher.lifecycle import CaseState, Role
from dispatcher.routing import route
from dispatcher.screen import EVIDENCE_PATH

HOTLINE = uuid.UUID("5c3e5a4e-3a2b-4f5e-9d61-6b1f2f0c1245")  # names a ticket's case: one case per ticket


@dataclass(frozen=True)
class PeopleReport:
    source: str  # "patrol" or "hotline"
    reporter: str  # the worker's id, or the hotline ("12345")
    kind: ViolationKind
    note: str
    micro_grid: str | None = None
    lon: float | None = None
    lat: float | None = None
    photo_sha256: str | None = None  # a patrol report's photo, uploaded by the reporter
    ticket_id: str | None = None  # the hotline's own id: a ticket sent twice is one case
    reported_at: datetime | None = None


class Reports(Actions):
    def report(self, report: PeopleReport, public_url: str) -> tuple[ActionResult, bool]:
        """A case from ``report``, dispatched like a camera's; (its summary and deliveries,
        whether it is new). ``TransitionError`` for a photo that is not the reporter's."""
        vid = (uuid.uuid5(HOTLINE, f"{report.source}:{report.ticket_id}") if report.ticket_id else uuid.uuid4())
        with self.sessions() as session:
            known = session.query(CaseRow).filter(CaseRow.violation_id == str(vid)).one_or_none()
            if known is not None:
                return ActionResult(case_summary(known)), False
            if report.photo_sha256 is not None:
                own_photo(session, report.photo_sha256, report.reporter, "photo_sha256")
            grid_id = report.micro_grid or (self.grid.locate(report.lon, report.lat)
                                            if report.lon is not None and report.lat is not None else None)
            target = route(self.grid, grid_id or UNLOCATED)
            at = now()
            photo = report.photo_sha256
            case = CaseRow(
                violation_id=str(vid), kind=report.kind.value, event_code=self.event_codes.get(report.kind),
                state=CaseState.reported.value, source=report.source, report_note=report.note,
                edge_id=report.source, camera_id=report.reporter[:64], zone_id="-", micro_grid=grid_id or UNLOCATED,
                lon=report.lon, lat=report.lat, worker_id=target.worker_id, leader_id=target.leader_id,
                department_id=self.grid.departments.get(report.kind), routing_note=str(target.note),
                started_at=min(report.reported_at.astimezone(UTC), at) if report.reported_at else at,  # never ahead
                opened_at=at, dwell_s=0.0, objects=[],
                snapshot_url=f"{public_url}{EVIDENCE_PATH}{photo}.jpg" if photo else None, snapshot_sha256=photo,
            )
            session.add(case)
            session.flush()
            if photo:
                link_evidence(session, {(case.id, photo): "snapshot"})
            self._tell_city(session, case, "case.opened")
            role = Role.system if report.source == "hotline" else self.role_of(report.reporter)
            self._record(session, case, "report", None, CaseState.reported, report.reporter, role, report.note,
                         {"source": report.source, **({"ticket_id": report.ticket_id} if report.ticket_id else {})})
            notes = ([] if target.worker_id is None else
                     self._dispatch(session, case, target.worker_id, SYSTEM, Role.system, target.note))
            session.flush()
            result = ActionResult(case_summary(case), deliveries(notes))
            session.commit()
            return result, True
