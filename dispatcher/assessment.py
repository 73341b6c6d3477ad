"""The monthly assessment of workers and micro-grids: response, resolution and satisfaction.

For the cases opened in a month (false alarms, ``void``, are counted apart and left out of
the rates), grouped by the case's worker or micro-grid:

- on-time acceptance: accepted within the kind's ``accept_within_min`` of opening, on the
  kind's clock (working time by default);
- closing rate: closed by the time of the report; on-time handling: handled by its deadline;
- mean response (opened → accepted) and handling time (accepted → handled), in minutes;
- rework rate: cases whose handling a leader rejected at least once;
- satisfaction: the mean resident rating (1-5) of rated cases;
- shop fronts put right by the shop within its grace period (no worker was sent);
- patrol reports: cases the workers reported themselves (巡查上报);
- online rate: the share of the month's working time (so far) with the worker's phone page
  open, by five-minute slot (dispatcher/presence.py).
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from statistics import mean
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dispatcher.config import EscalationConfig
from dispatcher.db import CaseRow, CaseTransitionRow, now
from dispatcher.lifecycle import CaseState
from dispatcher.presence import online_rate, working_slots
from i18n import Msg, Translator, translator
from i18n.terms import term

GroupBy = Literal["worker", "micro_grid"]


@dataclass
class AssessmentRow:
    month: str
    group: str
    cases: int
    voided: int
    accepted_on_time_rate: float | None
    closing_rate: float | None
    handled_on_time_rate: float | None
    mean_response_min: float | None
    mean_handling_min: float | None
    rework_rate: float | None
    satisfaction: float | None
    ratings: int
    self_corrected: int  # shop fronts put right by the shop within its grace, no worker sent
    patrol_reports: int  # cases from the workers' own patrol reports (巡查上报)
    online_rate: float | None = None  # share of working time with the phone page open (the grid's worker)


def month_bounds(month: str, timezone: str = "UTC") -> tuple[datetime, datetime]:
    """``YYYY-MM`` → [first instant, first instant of the next month) of the town's calendar
    (``timezone``), in UTC: in Beijing a case opened at 07:00 on the 1st (23:00 UTC the day
    before) belongs to the 1st's month."""
    zone = ZoneInfo(timezone)
    try:
        first = datetime.strptime(month, "%Y-%m")
        end = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    except ValueError:  # not YYYY-MM, or a year datetime cannot hold (0000, or the month after 9999-12)
        raise ValueError(Msg("month must look like 2026-11 (years 0001 to 9998), got {month}", month=repr(month))) \
            from None
    start, stop = first.replace(tzinfo=zone), datetime(end.year, end.month, 1, tzinfo=zone)
    return start.astimezone(UTC), stop.astimezone(UTC)


def checked_month(month: str) -> str:
    """``month`` if it names a month the assessment can cover; ``ValueError`` otherwise."""
    month_bounds(month)
    return month


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _mean_min(values: list[float]) -> float | None:
    return round(mean(values) / 60, 2) if values else None


def assess(session: Session, month: str, by: GroupBy, escalation: EscalationConfig,
           timezone: str = "Asia/Shanghai", workers: dict[str, str] | None = None) -> list[AssessmentRow]:
    """The rows of the cases opened in ``month`` of the town's calendar (``timezone``); each
    worker's online rate (a micro-grid's: its worker's, from ``workers``, micro-grid → worker)."""
    start, end = month_bounds(month, timezone)
    hours = escalation.working_hours
    working = working_slots(start, min(end, now()), hours.start, hours.end, hours.timezone or timezone)
    cases = session.scalars(select(CaseRow).where(CaseRow.opened_at >= start, CaseRow.opened_at < end)).all()
    reworked = set(session.scalars(select(CaseTransitionRow.case_id).where(
        CaseTransitionRow.action == "reject", CaseTransitionRow.case_id.in_([c.id for c in cases]))))
    groups: dict[str, list[CaseRow]] = defaultdict(list)
    for case in cases:
        groups[(case.worker_id if by == "worker" else case.micro_grid) or "(unassigned)"].append(case)
    rows = []
    for key in sorted(groups):
        everything = groups[key]
        counted = [c for c in everything if c.state != CaseState.void.value]
        on_time = sum(1 for c in counted
                      if c.accepted_at is not None and c.accepted_at <= escalation.accept_due(c.kind, c.opened_at))
        handled = [c for c in counted if c.handled_at is not None]
        handled_in_time = sum(1 for c in handled if c.handle_due_at is None or c.handled_at <= c.handle_due_at)
        ratings = [c.rating for c in counted if c.rating is not None]
        rows.append(AssessmentRow(
            month=month,
            group=key,
            cases=len(counted),
            voided=len(everything) - len(counted),
            accepted_on_time_rate=_rate(on_time, len(counted)),
            closing_rate=_rate(sum(1 for c in counted if c.state == CaseState.closed.value), len(counted)),
            handled_on_time_rate=_rate(handled_in_time, len(handled)),
            mean_response_min=_mean_min(
                [(c.accepted_at - c.opened_at).total_seconds() for c in counted if c.accepted_at]),
            mean_handling_min=_mean_min(
                [(c.handled_at - c.accepted_at).total_seconds() for c in handled if c.accepted_at]),
            rework_rate=_rate(sum(1 for c in counted if c.id in reworked), len(counted)),
            satisfaction=round(mean(ratings), 2) if ratings else None,
            ratings=len(ratings),
            self_corrected=sum(1 for c in counted if c.self_corrected),
            patrol_reports=sum(1 for c in counted if c.source == "patrol"),
            online_rate=online_rate(session, key if by == "worker" else (workers or {}).get(key, ""), working),
        ))
    return rows


def to_csv(rows: list[AssessmentRow], tr: Translator | None = None) -> str:
    """The rows as CSV with headings in ``tr``'s language (English without), with a byte order
    mark so that Excel and WPS open the Chinese text as UTF-8."""
    tr = tr or translator("en")
    fields = list(AssessmentRow.__dataclass_fields__)
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow([term(tr, "assessment", f) for f in fields])
    for row in rows:
        values = asdict(row)
        writer.writerow(["" if values[f] is None else values[f] for f in fields])
    return out.getvalue()


def assess_month(sessions: sessionmaker, month: str, by: GroupBy, escalation: EscalationConfig,
                 timezone: str = "Asia/Shanghai", workers: dict[str, str] | None = None) -> list[AssessmentRow]:
    """``assess`` in a session of its own."""
    with sessions() as session:
        return assess(session, month, by, escalation, timezone, workers)
