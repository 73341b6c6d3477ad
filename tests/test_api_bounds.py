"""Numbers and sizes people send: an action's data is a typed, bounded model (NaN, Infinity or
a trillion minutes are a 422, not a 500; unknown keys never reach the audit trail), and the
zone editor takes only zones of bounded size naming the grid's own micro-grids and shops.
Against a real dispatcher and its database."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml
from builders import api_client, dispatcher_config, open_case

from dispatcher.cases import CaseActionError
from gridpatrol.broker import LocalBroker
from gridpatrol.demo import DispatcherThread


def test_action_data_is_typed_and_bounded(dispatcher: DispatcherThread, mosquitto) -> None:
    case = open_case(dispatcher, mosquitto)
    staff = api_client(dispatcher)
    extend = f"/api/v1/cases/{case['id']}/actions/extend"
    for bad in ('{"data": {"minutes": NaN}}', '{"data": {"minutes": Infinity}}', '{"data": {"minutes": 1e12}}',
                '{"data": {"minutes": -5}}', '{"data": {"rating": 9}}', '{"data": {"junk": "' + "x" * 1000 + '"}}',
                '{"data": {"after_photo_sha256": "../../etc/passwd"}}', '{"data": {"micro_grid": "a/b"}}'):
        answer = staff.post(extend, content=bad, headers={"content-type": "application/json"})
        assert answer.status_code == 422, (bad, answer.status_code)
    assert staff.post(f"/api/v1/cases/{case['id']}/actions/accept", json={}).status_code == 403  # not the worker's
    worker = api_client(dispatcher, "w-017")
    assert worker.post(f"/api/v1/cases/{case['id']}/actions/accept", json={}).status_code == 200
    extended = staff.post(extend, json={"reason": "rain", "data": {"minutes": 90}})
    assert extended.status_code == 200
    timeline = staff.get(f"/api/v1/cases/{case['id']}").json()["timeline"]
    assert timeline[-1]["action"] == "extend" and timeline[-1]["data"] == {"minutes": 90.0}
    # The service refuses the same numbers when called directly (the CLI, a future route).
    for minutes in (float("nan"), float("inf"), 1e12, True):
        with pytest.raises(CaseActionError, match="extend needs minutes"):
            dispatcher.services.cases.act(case["id"], "extend", "d-01", "rain", data={"minutes": minutes})


def test_the_zone_editor_takes_bounded_zones_of_the_grid(tmp_path: Path, mosquitto: LocalBroker,
                                                       project_root: Path) -> None:
    town = tmp_path / "town.yaml"
    town.write_text((project_root / "configs/edge.example.yaml").read_text())
    before = town.read_text()
    thread = DispatcherThread(dispatcher_config(tmp_path, mosquitto.url, edge_config=town))
    thread.start()
    try:
        staff = api_client(thread)
        zone = {"id": "z9", "kind": "parked_bike", "classes": ["bicycle"], "dwell_s": 60, "micro_grid": "mg-017",
                "polygon": [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5], [0.1, 0.5]]}

        def save(*zones: dict) -> tuple[int, str]:
            answer = staff.put("/api/v1/zones/cam-001", json={"zones": list(zones)})
            if answer.headers.get("content-type") != "application/json":
                return answer.status_code, answer.text  # the body limit's plain 413
            return answer.status_code, str(answer.json().get("detail"))

        circle = [[0.5 + 0.3 * math.cos(i * math.tau / 20_000), 0.5 + 0.3 * math.sin(i * math.tau / 20_000)]
                  for i in range(20_000)]
        status, detail = save({**zone, "polygon": circle})
        assert status in (413, 422)  # 20,000 points: over the body limit, and over 64 points anyway
        octagon = [[0.5 + 0.3 * math.cos(i * math.tau / 80), 0.5 + 0.3 * math.sin(i * math.tau / 80)]
                   for i in range(80)]
        status, detail = save({**zone, "polygon": octagon})
        assert status == 422 and detail.startswith("zones[0].polygon:") and "64" in detail
        assert save({**zone, "micro_grid": "mg-999"}) == (422, "zones[0].micro_grid: 'mg-999' is not a micro-grid "
                                                              "of the grid")
        status, detail = save({**zone, "kind": "cross_door_trading", "shop_id": "shop-9999"})
        assert (status, detail) == (422, "zones[0].shop_id: 'shop-9999' is not a shop of the grid")
        status, detail = save({**zone, "classes": ["x" * 65]})
        assert status == 422 and detail.startswith("zones[0].classes[0]")
        assert town.read_text() == before  # nothing of these was written
        assert save(zone)[0] == 200
        saved = yaml.safe_load(town.read_text())
        assert next(c for c in saved["cameras"] if c["id"] == "cam-001")["zones"][0]["id"] == "z9"
    finally:
        thread.stop()
