"""Routing by rosters: the worker on duty, else the micro-grid's worker, else the stand-in,
else the leader; days and hours read in the grid's time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from dispatcher.grid import Grid
from dispatcher.routing import route

SH = ZoneInfo("Asia/Shanghai")


def grid(**extra: object) -> Grid:
    return Grid.model_validate({
        "town": "T",
        "people": [{"id": i, "name": i, "role": r} for i, r in
                   [("w-1", "worker"), ("w-2", "worker"), ("w-3", "worker"), ("l-1", "leader")]],
        "micro_grids": [{"id": "mg-1", "name": "Grid 1", "worker": "w-1", "stand_in": "w-2", "leader": "l-1"}],
        **extra,
    })


ROSTER = {"rosters": [
    {"micro_grid": "mg-1", "person": "w-1", "days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00",
     "end": "18:00"},
    {"micro_grid": "mg-1", "person": "w-3", "days": ["sat", "sun"], "start": "09:00", "end": "17:00"},
]}


def test_the_rostered_worker_on_duty_takes_it() -> None:
    g = grid(**ROSTER)
    assert route(g, "mg-1", datetime(2026, 11, 28, 10, 0, tzinfo=SH)).worker_id == "w-3"  # Saturday
    monday_morning = datetime(2026, 11, 30, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai
    r = route(g, "mg-1", monday_morning)
    assert (r.worker_id, r.leader_id) == ("w-1", "l-1") and "w-1 on duty" in r.note


def test_outside_every_shift_the_micro_grids_worker_takes_it() -> None:
    assert route(grid(**ROSTER), "mg-1", datetime(2026, 11, 28, 20, 0, tzinfo=SH)).worker_id == "w-1"


def test_leave_sends_it_to_the_stand_in_then_the_leader() -> None:
    away = {"leave": [{"person": "w-1", "first_day": "2026-11-30", "last_day": "2026-12-02"}]}
    g = grid(**ROSTER, **away)
    r = route(g, "mg-1", datetime(2026, 12, 1, 10, 0, tzinfo=SH))
    assert r.worker_id == "w-2" and "stand-in w-2" in r.note
    both = {"leave": [*away["leave"], {"person": "w-2", "first_day": "2026-12-01", "last_day": "2026-12-01"}]}
    r = route(grid(**both), "mg-1", datetime(2026, 12, 1, 10, 0, tzinfo=SH))
    assert r.worker_id == "l-1" and "no worker available" in r.note
    assert route(g, "mg-1", datetime(2026, 12, 3, 10, 0, tzinfo=SH)).worker_id == "w-1"  # back


@pytest.mark.parametrize(("extra", "message"), [
    ({"rosters": [{"micro_grid": "mg-9", "person": "w-1", "days": ["mon"], "start": "08:00", "end": "09:00"}]},
     "micro-grid 'mg-9' is not in micro_grids"),
    ({"rosters": [{"micro_grid": "mg-1", "person": "l-1", "days": ["mon"], "start": "08:00", "end": "09:00"}]},
     "'l-1' is not a person with role worker"),
    ({"rosters": [{"micro_grid": "mg-1", "person": "w-1", "days": ["mon"], "start": "18:00", "end": "08:00"}]},
     "must end after it starts"),
    ({"timezone": "Moon/Base"}, "unknown time zone"),
])
def test_bad_rosters_are_refused(extra: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        grid(**extra)
