"""The monthly assessment, from cases with known timings, on both databases and over HTTP."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from builders import api_client, case_service, opened_event

from dispatcher.assessment import assess, month_bounds
from dispatcher.db import CaseRow

T0 = datetime(2026, 10, 5, 8, 0, tzinfo=UTC)


def build(cases, n: int, accept_after_min: float | None, handle_after_min: float | None = None,
          rating: int | None = None, reject: bool = False, void: bool = False, micro_grid: str = "mg-017") -> int:
    """A case that went through the loop, then its timestamps set to known values."""
    cid = cases.ingest(opened_event(n, micro_grid=micro_grid)).case_id
    worker = "w-017" if micro_grid == "mg-017" else "w-018"
    leader = "l-017" if micro_grid == "mg-017" else "l-018"
    if void:
        cases.act(cid, "void", leader, reason="a delivery van")
    elif accept_after_min is not None:
        cases.act(cid, "accept", worker)
        if handle_after_min is not None:
            cases.act(cid, "handle", worker, reason="done")
            if reject:
                cases.act(cid, "reject", leader, reason="not all of it")
                cases.act(cid, "handle", worker, reason="now all")
            cases.act(cid, "verify", leader)
            if rating:
                cases.act(cid, "rate", "d-01", data={"rating": rating})
            cases.act(cid, "close", "d-01")
    with cases.sessions() as s:
        case = s.get(CaseRow, cid)
        case.opened_at = T0 + timedelta(hours=n)
        if case.accepted_at:
            case.accepted_at = case.opened_at + timedelta(minutes=accept_after_min)
            case.handle_due_at = case.accepted_at + timedelta(minutes=240)
        if case.handled_at:
            case.handled_at = case.accepted_at + timedelta(minutes=handle_after_min)
        s.commit()
    return cid


def test_month_bounds() -> None:
    assert month_bounds("2026-12") == (datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    # the town's months: Beijing's 1 December 00:00 is 30 November 16:00 UTC
    assert month_bounds("2026-12", "Asia/Shanghai") == (datetime(2026, 11, 30, 16, tzinfo=UTC),
                                                        datetime(2026, 12, 31, 16, tzinfo=UTC))
    with pytest.raises(ValueError, match="2026-11"):
        month_bounds("Nov 2026")


def test_a_case_opened_early_on_the_first_counts_in_the_towns_month(database_url: str) -> None:
    """07:00 in Beijing on 1 December is 23:00 UTC on 30 November: the case is December's."""
    cases = case_service(database_url)
    cid = build(cases, 1, accept_after_min=10)
    with cases.sessions() as s:
        s.get(CaseRow, cid).opened_at = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
        s.commit()
        december = assess(s, "2026-12", "worker", cases.escalation, "Asia/Shanghai")
        november = assess(s, "2026-11", "worker", cases.escalation, "Asia/Shanghai")
    assert [r.cases for r in december] == [1] and november == []


def test_assessment_per_worker_and_grid(database_url: str) -> None:
    cases = case_service(database_url)  # accept within 30 min, handle within 240
    build(cases, 1, accept_after_min=10, handle_after_min=60, rating=5)
    build(cases, 2, accept_after_min=50, handle_after_min=300, rating=3, reject=True)  # late twice, reworked
    build(cases, 3, accept_after_min=20)  # accepted, not yet handled
    build(cases, 4, accept_after_min=None, void=True)  # a false alarm: left out of the rates
    build(cases, 5, accept_after_min=5, handle_after_min=30, rating=4, micro_grid="mg-018")
    with cases.sessions() as s:
        by_worker = {r.group: r for r in assess(s, "2026-10", "worker", cases.escalation)}
        by_grid = {r.group: r for r in assess(s, "2026-10", "micro_grid", cases.escalation)}
        assert assess(s, "2026-09", "worker", cases.escalation) == []
    w = by_worker["w-017"]
    assert (w.cases, w.voided, w.ratings) == (3, 1, 2)
    assert w.accepted_on_time_rate == round(2 / 3, 4)
    assert w.closing_rate == round(2 / 3, 4)
    assert w.handled_on_time_rate == 0.5
    assert w.mean_response_min == round((10 + 50 + 20) / 3, 2)
    assert w.mean_handling_min == round((60 + 300) / 2, 2)
    assert w.rework_rate == round(1 / 3, 4)
    assert w.satisfaction == 4.0
    assert by_worker["w-018"].cases == 1 and by_worker["w-018"].satisfaction == 4.0
    assert by_grid["mg-017"].cases == 3 and by_grid["mg-018"].mean_response_min == 5.0


def test_assessment_csv_over_http(dispatcher) -> None:
    cases = dispatcher.services.cases
    build(cases, 1, accept_after_min=10, handle_after_min=60, rating=5)
    api = api_client(dispatcher)
    response = api.get("/api/v1/assessment.csv", params={"month": "2026-10", "by": "micro_grid"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert response.text.startswith("\ufeff")  # so that Excel and WPS read the Chinese as UTF-8
    rows = list(csv.DictReader(io.StringIO(response.text.removeprefix("\ufeff"))))  # the town's language
    assert list(rows[0])[:4] == ["月份", "网格员或微网格", "案件", "作废"]
    assert rows[0]["网格员或微网格"] == "mg-017" and rows[0]["案件"] == "1" and rows[0]["满意度（1-5）"] == "5"
    assert api.get("/api/v1/assessment", params={"month": "2026-13"}).status_code == 422
    assert api.get("/api/v1/assessment", params={"month": "2026-10"}).json()[0]["group"] == "w-017"


def test_the_online_rate_is_the_share_of_working_time_the_page_was_open(database_url: str) -> None:
    """Five-minute slots of the town's working time (08:30-17:30 Beijing, working days) in
    which the worker's phone page said it was open."""
    import chinese_calendar

    from dispatcher.presence import seen

    cases = case_service(database_url)
    case_id = build(cases, 1, accept_after_min=10)
    with cases.sessions() as s:
        s.get(CaseRow, case_id).opened_at = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)
        s.commit()
    monday = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # 09:00 in Beijing
    for minute in range(0, 270, 5):  # 09:00-13:30: 54 slots
        seen(cases.sessions, "w-017", monday + timedelta(minutes=minute, seconds=30))
    seen(cases.sessions, "w-017", monday + timedelta(minutes=30, seconds=10))  # the same slot again: once
    seen(cases.sessions, "w-017", datetime(2026, 11, 1, 3, 0, tzinfo=UTC))  # a Sunday: not working time
    workdays = sum(chinese_calendar.is_workday(date(2026, 11, d)) for d in range(1, 31))
    with cases.sessions() as s:
        row = assess(s, "2026-11", "worker", cases.escalation, "Asia/Shanghai")[0]
        grid_row = assess(s, "2026-11", "micro_grid", cases.escalation, "Asia/Shanghai", {"mg-017": "w-017"})[0]
    assert row.online_rate == round(54 / (workdays * 108), 4) == grid_row.online_rate


def test_only_the_person_says_their_page_is_open(dispatcher) -> None:
    assert api_client(dispatcher, "w-017").post("/api/v1/people/w-017/presence").status_code == 204
    assert api_client(dispatcher, "w-018").post("/api/v1/people/w-017/presence").status_code == 403
    assert api_client(dispatcher, machine="monitor").post("/api/v1/people/w-017/presence").status_code in (403, 401)
