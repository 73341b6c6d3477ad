"""Deadlines in working time: working hours per day, weekends, Chinese public holidays and
the make-up working days (调休), from the maintained ``chinesecalendar`` package.

The package covers the years whose schedule the State Council has published; for a later
year the clock falls back to Monday-Friday and logs it once: update the package when the
next year's schedule is out.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

log = logging.getLogger(__name__)
_warned_years: set[int] = set()


def is_workday(day: date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        if day.year not in _warned_years:
            _warned_years.add(day.year)
            log.warning("no holiday schedule for %s in chinesecalendar; using Monday-Friday", day.year)
        return day.weekday() < 5


class WorkClock:
    """Adds working minutes to an instant. Times are aware; the day is read in ``timezone``."""

    def __init__(self, start: time = time(8, 30), end: time = time(17, 30), timezone: str = "Asia/Shanghai") -> None:
        if end <= start:
            raise ValueError("working hours must end after they start")
        self.start, self.end, self.zone = start, end, ZoneInfo(timezone)

    def add(self, at: datetime, minutes: float) -> datetime:
        """The instant ``minutes`` of working time after ``at``."""
        left = timedelta(minutes=minutes)
        local = at.astimezone(self.zone)
        for _ in range(3700):  # ten years of days: a deadline never needs more
            day = local.date()
            opens = datetime.combine(day, self.start, self.zone)
            closes = datetime.combine(day, self.end, self.zone)
            if is_workday(day) and local < closes:
                local = max(local, opens)
                if local + left <= closes:
                    return (local + left).astimezone(at.tzinfo)
                left -= closes - local
            local = datetime.combine(day + timedelta(days=1), self.start, self.zone)
        raise ValueError(f"no working time found for {minutes} minutes after {at}")
