"""The online rate of the monthly assessment: a person's phone page says it is open (every few
minutes while shown); the rate is the share of the town's working time, five-minute slot by
slot, in which it was."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from dispatcher.db import PresenceRow, now
from dispatcher.workclock import is_workday

SLOT_S = 300


def slot_of(at: datetime) -> int:
    return int(at.timestamp()) // SLOT_S


def seen(sessions: sessionmaker, person_id: str, at: datetime | None = None) -> None:
    """``person_id``'s page is open now (once per slot; a repeat changes nothing)."""
    with sessions() as session:
        session.add(PresenceRow(person_id=person_id, slot=slot_of(at or now())))
        try:
            session.commit()
        except IntegrityError:
            session.rollback()


def working_slots(start: datetime, end: datetime, opens: time, closes: time, timezone: str) -> set[int]:
    """The five-minute slots of working time (working days, ``opens``-``closes`` local) in
    [start, end)."""
    zone = ZoneInfo(timezone)
    slots: set[int] = set()
    day: date = start.astimezone(zone).date()
    while datetime.combine(day, time(0), zone) < end:
        if is_workday(day):
            a = max(datetime.combine(day, opens, zone), start)
            b = min(datetime.combine(day, closes, zone), end)
            if a < b:
                slots.update(range(slot_of(a + timedelta(seconds=SLOT_S - 1)), slot_of(b)))
        day += timedelta(days=1)
    return slots


def online_rate(session: Session, person_id: str, working: set[int]) -> float | None:
    """The share of ``working`` slots in which the person's page was open."""
    if not working:
        return None
    open_slots = set(session.scalars(select(PresenceRow.slot).where(
        PresenceRow.person_id == person_id, PresenceRow.slot >= min(working), PresenceRow.slot <= max(working))))
    return round(len(open_slots & working) / len(working), 4)
