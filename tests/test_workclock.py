"""Deadlines in working time, with Chinese public holidays and make-up working days."""

from __future__ import annotations

import logging
from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from dispatcher.config import EscalationConfig, KindPolicy
from dispatcher.workclock import WorkClock, is_workday

SH = ZoneInfo("Asia/Shanghai")
clock = WorkClock(time(8, 30), time(17, 30), "Asia/Shanghai")


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


def test_within_a_working_day() -> None:
    assert clock.add(at(2026, 11, 23, 9, 0), 30) == at(2026, 11, 23, 9, 30)


def test_overnight_and_before_opening() -> None:
    assert clock.add(at(2026, 11, 23, 17, 0), 60) == at(2026, 11, 24, 9, 0)  # 30 min today, 30 tomorrow
    assert clock.add(at(2026, 11, 24, 6, 0), 30) == at(2026, 11, 24, 9, 0)  # the clock starts at 8:30


def test_weekends_are_skipped() -> None:
    assert clock.add(at(2026, 11, 27, 17, 0), 60) == at(2026, 11, 30, 9, 0)  # Friday evening -> Monday


def test_national_day_holiday_and_its_make_up_saturday() -> None:
    # 2026: 1-7 October off; Saturday 10 October is a make-up working day.
    assert not is_workday(at(2026, 10, 2).date()) and is_workday(at(2026, 10, 10).date())
    assert clock.add(at(2026, 9, 30, 17, 0), 60) == at(2026, 10, 8, 9, 0)
    assert clock.add(at(2026, 10, 9, 17, 0), 60) == at(2026, 10, 10, 9, 0)


def test_a_year_without_a_published_schedule_falls_back_to_weekdays(caplog) -> None:
    with caplog.at_level(logging.WARNING):
        assert is_workday(at(2099, 1, 5).date()) and not is_workday(at(2099, 1, 3).date())
    assert "no holiday schedule for 2099" in caplog.text


def test_kinds_on_the_plain_clock_ignore_working_hours() -> None:
    cfg = EscalationConfig(policies={"parked_bike": KindPolicy(accept_within_min=30, clock="plain"),
                                     "cross_door_trading": KindPolicy(accept_within_min=30)})
    night = at(2026, 11, 23, 22, 0)
    assert cfg.accept_due("parked_bike", night) == at(2026, 11, 23, 22, 30)
    assert cfg.accept_due("cross_door_trading", night) == at(2026, 11, 24, 9, 0)


def test_bad_working_hours_are_refused() -> None:
    with pytest.raises(ValueError, match="end after they start"):
        WorkClock(time(18, 0), time(9, 0))
    with pytest.raises(ValueError, match="unknown time zone"):
        EscalationConfig.model_validate({"working_hours": {"timezone": "Mars/Olympus"}})
