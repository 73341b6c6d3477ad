"""The grid as data: the town → community → micro-grid hierarchy with GeoJSON areas, events
placed by location or shop, and grid/roster administration saved as versions that every
dispatcher picks up. Real dispatchers (Uvicorn) and Mosquitto."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from builders import api_client, case_for, dispatcher_config, publish_event, sample_event, wait_for

from contract import EventState, ViolationEvent, event_id_for, violation_id_for
from contract.configfile import ConfigError
from dispatcher.cases import CaseService
from dispatcher.config import DedupConfig, EscalationConfig
from dispatcher.db import make_engine, make_sessions
from dispatcher.grid import load_grid
from dispatcher.gridstore import GridStore, grid_document
from gridpatrol.data import PROJECT_ROOT
from gridpatrol.demo import DispatcherThread

GRID = PROJECT_ROOT / "configs/grid.yaml"
IN_MG_017 = {"lon": 120.155, "lat": 30.28}
IN_MG_018 = {"lon": 120.165, "lat": 30.28}
NOWHERE = {"lon": 121.5, "lat": 31.2}


def event(n: int, **fields: object) -> ViolationEvent:
    camera = f"cam-{n:03d}"
    vid = violation_id_for("box-01", camera, "z1", n, fields.pop("started", None) or sample_start())
    body = sample_event(camera_id=camera, violation_id=str(vid), event_id=str(event_id_for(vid, EventState.opened)))
    body.update(fields)
    return ViolationEvent.model_validate({k: v for k, v in body.items() if v is not None})


def sample_start():
    from datetime import UTC, datetime

    return datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


def test_areas_place_points_in_micro_grids() -> None:
    grid = load_grid(GRID)
    assert grid.locate(**IN_MG_017) == "mg-017" and grid.locate(**IN_MG_018) == "mg-018"
    assert grid.locate(**NOWHERE) is None
    assert set(grid.areas.shapes) == {"east-street", "mg-017", "mg-018"}


@pytest.mark.parametrize(("feature", "message"), [
    ({"properties": {"id": "mg-999"}}, r"features\[0\]: properties.id 'mg-999' is no community or micro-grid"),
    ({"geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}},
     r"features\[0\] \(mg-017\): the polygon crosses itself"),
    ({"geometry": {"type": "Polygon", "coordinates": [[[500000, 3000000], [500100, 3000000],
                                                        [500100, 3000100], [500000, 3000000]]]}},
     r"features\[0\] \(mg-017\): coordinates are not lon/lat"),
    ({"geometry": {"type": "Point", "coordinates": [120.1, 30.2]}}, r"a Point, not a \(Multi\)Polygon"),
])
def test_a_bad_areas_file_is_named_with_its_feature(tmp_path: Path, feature: dict, message: str) -> None:
    base = {"type": "Feature", "properties": {"id": "mg-017"},
            "geometry": {"type": "Polygon", "coordinates": [[[120.15, 30.27], [120.16, 30.27], [120.16, 30.29],
                                                             [120.15, 30.27]]]}}
    (tmp_path / "areas.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [base | feature]}))
    grid = yaml.safe_load(GRID.read_text()) | {"areas_file": "areas.geojson"}
    (tmp_path / "grid.yaml").write_text(yaml.safe_dump(grid))
    with pytest.raises(ConfigError, match=message) as caught:
        load_grid(tmp_path / "grid.yaml")
    assert "areas.geojson" in str(caught.value)


def test_events_are_placed_by_location_or_shop(tmp_path: Path) -> None:
    sessions = make_sessions(make_engine(f"sqlite:///{tmp_path / 'd.sqlite'}"))
    cases = CaseService(sessions, load_grid(GRID), EscalationConfig(), DedupConfig(), {})
    by_place = cases.ingest(event(1, micro_grid=None, location=IN_MG_018))
    nowhere = cases.ingest(event(2, micro_grid=None, location=NOWHERE))
    shop = cases.ingest(event(3, micro_grid=None, location=None, kind="cross_door_trading", shop_id="shop-0012"))
    # The same shop front again, the goods elsewhere in its strip: the same open case.
    again = cases.ingest(event(4, camera_id="cam-003", micro_grid=None, kind="cross_door_trading",
                               shop_id="shop-0012", objects=[{"class_name": "chair", "confidence": 0.7,
                                                              "bbox": [300, 200, 360, 280], "track_id": 9}]))
    from dispatcher.db import CaseRow

    with sessions() as s:
        first, second, third = (s.get(CaseRow, r.case_id) for r in (by_place, nowhere, shop))
        assert (first.micro_grid, first.worker_id, first.lon, first.lat) == ("mg-018", "w-018", 120.165, 30.28)
        assert (second.micro_grid, second.state, second.worker_id) == ("unlocated", "reported", None)
        assert "not in the grid file" in second.routing_note
        assert (third.micro_grid, third.shop_id, third.worker_id) == ("mg-017", "shop-0012", "w-017")
    assert shop.opened and not again.opened and again.case_id == shop.case_id


def test_contract_needs_a_micro_grid_or_a_location() -> None:
    with pytest.raises(ValueError, match="micro_grid, location or shop_id"):
        event(1, micro_grid=None)
    assert event(1, micro_grid=None, location=IN_MG_017).micro_grid is None


def publish(mosquitto, n: int, **fields: object) -> str:
    e = event(n, **fields)
    publish_event(mosquitto, e.model_dump_json(exclude_none=True), e.topic())
    return str(e.violation_id)


def wait_case(client, violation_id: str) -> dict:
    return wait_for(lambda: case_for(client, violation_id), 10, "the case to open")


def test_grid_api_and_roster_versions_reach_every_dispatcher(tmp_path: Path, mosquitto) -> None:
    one = DispatcherThread(dispatcher_config(tmp_path, mosquitto.url, escalation={"poll_s": 0.2}))
    one.start()
    second_config = dispatcher_config(tmp_path, mosquitto.url, escalation={"poll_s": 0.2},
                                      ingest={"client_id": "second"})
    two = DispatcherThread(second_config)  # the same database, a second instance
    two.start()
    try:
        staff, admin_free_worker = api_client(one), api_client(one, "w-017")
        wait_case(staff, publish(mosquitto, 1, micro_grid=None, location=IN_MG_017))

        tree = staff.get("/api/v1/grid").json()
        east = tree["communities"][0]
        assert (east["id"], [g["id"] for g in east["micro_grids"]]) == ("east-street", ["mg-017", "mg-018"])
        assert east["micro_grids"][0]["open_cases"] == 1 and east["micro_grids"][0]["worker_name"] == "张伟"
        assert tree["shops"][0]["owner"] == "王军"
        areas = staff.get("/api/v1/grid/areas").json()
        props = {f["properties"]["id"]: f["properties"] for f in areas["features"]}
        assert props["mg-017"]["open_cases"] == 1 and props["east-street"]["level"] == "community"
        assert admin_free_worker.get("/api/v1/grid").status_code == 403

        # A roster through the API: w-019 covers mg-017 all week, all day.
        everyday = {"micro_grid": "mg-017", "person": "w-019", "start": "00:00", "end": "23:59",
                    "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}
        assert admin_free_worker.put("/api/v1/grid/rosters", json={"items": [everyday]}).status_code == 403
        bad = staff.put("/api/v1/grid/rosters", json={"items": [everyday | {"person": "nobody"}]})
        assert bad.status_code == 422 and "rosters[0]" in bad.text
        saved = staff.put("/api/v1/grid/rosters", json={"items": [everyday], "note": "weekend cover"})
        assert saved.status_code == 200
        # The other dispatcher switches to the new version on its own.
        wait_for(lambda: two.services.grid.rosters, 5, "the second dispatcher to take the new roster")
        assert [s.person for s in two.services.grid.rosters] == ["w-019"]
        case = wait_case(staff, publish(mosquitto, 2, micro_grid=None, location=IN_MG_017))
        assert case["worker_id"] == "w-019" and "w-019 on duty" in case["routing_note"]
        versions = api_client(one, machine="admin").get("/api/v1/grid/versions").json()
        assert [(v["source"], v["created_by"], v["note"]) for v in versions[:2]] == [
            ("api", "d-01", "weekend cover"), ("file", "grid file", "imported at start")]
    finally:
        two.stop()
        one.stop()


def test_an_edited_grid_file_wins_at_start_an_unchanged_one_does_not(tmp_path: Path) -> None:
    sessions = make_sessions(make_engine(f"sqlite:///{tmp_path / 'd.sqlite'}"))
    store = GridStore(sessions)
    file_grid = load_grid(GRID)
    first, _ = store.start_from_file(file_grid)
    edited = file_grid.model_copy(update={"leave": []})
    document = grid_document(file_grid)
    document["leave"] = [{"person": "w-017", "first_day": "2026-12-01", "last_day": "2026-12-03"}]
    from dispatcher.gridstore import grid_from_document

    api_version = store.save(grid_from_document(document), "d-01", "leave")
    version, grid = store.start_from_file(file_grid)  # the file did not change: the API's version stays
    assert version == api_version and grid.leave[0].person == "w-017"
    renamed = edited.model_copy(update={"town": "Renamed Town"})
    version, grid = store.start_from_file(renamed.with_areas(file_grid.areas))
    assert version > api_version > first and grid.town == "Renamed Town" and grid.leave == []
