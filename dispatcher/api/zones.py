"""The zone editor's API: a camera's zones in the town's edge config, its latest snapshot to
draw them over, the classes its box's model knows, and a zone tried on the camera's recent
past before it is saved."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field, ValidationError

from contract.configfile import first_error
from contract.zones import MAX_ZONES, validate_zones
from contract.zonetest import MAX_TEST_MINUTES
from dispatcher.api.deps import ServicesDep, for_people, require
from dispatcher.api.shapes import CameraZones, SavedZones, ZoneCamera, ZoneTestResult
from dispatcher.auth import Principal
from dispatcher.services import Services
from dispatcher.zonefile import ZoneFile, ZonesRejected
from dispatcher.zonepush import PushFailed, push_zones
from dispatcher.zonetest import ZoneTestFailed
from i18n import Msg

router = APIRouter(prefix="/api/v1/zones", tags=["zones"], dependencies=[Depends(require("admin", "dispatcher"))])
Editor = Annotated[Principal, Depends(require("admin", "dispatcher"))]


class ZonesBody(BaseModel):
    zones: list[dict[str, Any]] = Field(max_length=MAX_ZONES, description="The camera's zones (contract/zones.py)")


class ZoneTestBody(BaseModel):
    zone: dict[str, Any] = Field(description="One zone as edited (contract/zones.py)")
    minutes: float = Field(default=10.0, gt=0, le=MAX_TEST_MINUTES, description="How far back to replay")


def _file(svc: Services) -> ZoneFile:
    if svc.zones is None:
        raise HTTPException(404, Msg("no edge config to edit: set edge_config in the dispatcher config"))
    return svc.zones


def _snapshot(svc: Services, camera_id: str) -> str | None:
    """The newest evidence image of the camera, as a signed link."""
    return svc.links.sign(svc.cases.latest_snapshot(camera_id))


@router.get("", response_model=list[ZoneCamera])
def cameras(svc: ServicesDep) -> list[dict[str, Any]]:
    """The cameras of the edge config with their box and zone count."""
    try:
        found = _file(svc).cameras()
        return [{"camera_id": c["camera_id"], "edge": c["edge"], "zones": len(c["zones"])} for c in found]
    except LookupError as exc:
        raise HTTPException(503, for_people(exc)) from None


@router.get("/{camera_id}", response_model=CameraZones)
def camera_zones(camera_id: str, svc: ServicesDep) -> dict[str, Any]:
    """The camera's zones, its latest snapshot, and the box that runs it now with the class
    names its model knows (for the zones to choose from)."""
    try:
        camera = _file(svc).camera(camera_id)
    except KeyError as exc:
        raise HTTPException(404, str(exc.args[0])) from None
    except LookupError as exc:
        raise HTTPException(503, for_people(exc)) from None
    running = svc.cameras.box_of(camera_id)
    versions = svc.cameras.zones_versions(running[0]) if running else {}
    return {**camera, "snapshot_url": _snapshot(svc, camera_id), "running_on": running[0] if running else None,
            "classes": running[1] if running else None, **versions}


@router.post("/{camera_id}/test", response_model=ZoneTestResult)
def test_zone(camera_id: str, body: ZoneTestBody, svc: ServicesDep) -> dict[str, Any]:
    """Try one zone, as edited and not saved, on the camera's recent past: the box that runs the
    camera replays its last ``minutes`` of samples through it and says what would have opened
    and cleared (contract/zonetest.py). 422 names a bad key; 409 when no box reports the camera;
    504 when the box does not answer."""
    try:
        zone = validate_zones([body.zone])[0]
    except ValidationError as exc:
        raise HTTPException(422, for_people(ZonesRejected(first_error(exc, "zone", skip=1)))) from None
    running = svc.cameras.box_of(camera_id)
    if running is None or svc.zone_tester is None:
        raise HTTPException(409, Msg("no box reports camera {camera} now: it is offline or not yet started",
                                     camera=camera_id))
    try:
        answer = svc.zone_tester.ask(running[0], camera_id, zone, body.minutes)
    except ZoneTestFailed as exc:
        raise HTTPException(504, exc.message) from None
    events = [{"state": e.state.value, "at": e.at.isoformat(), "object_class": e.object_class, "bbox": list(e.bbox),
               "dwell_s": e.dwell_s,
               "thumbnail": f"data:image/jpeg;base64,{e.thumbnail_jpeg}" if e.thumbnail_jpeg else None}
              for e in answer.events]
    return {"camera_id": camera_id, "edge_id": answer.edge_id, "samples": answer.samples,
            "since": answer.since.isoformat() if answer.since else None,
            "until": answer.until.isoformat() if answer.until else None, "events": events, "more": answer.more,
            "error": answer.error or None}


@router.put("/{camera_id}", response_model=SavedZones)
def save_zones(camera_id: str, body: ZonesBody, svc: ServicesDep, who: Editor) -> dict[str, Any]:
    """Validate the camera's zones as the edge will (422 naming the bad key), write them to the
    town's edge config and push the box's zones to it over MQTT (retained, versioned: a box
    that is off gets them when it connects); the box says in its status which version runs."""
    try:
        stored = _file(svc).save(camera_id, body.zones, {g.id for g in svc.grid.micro_grids},
                                 {shop.id for shop in svc.grid.shops})
    except ZonesRejected as exc:
        raise HTTPException(422, for_people(exc)) from None
    except KeyError as exc:
        raise HTTPException(404, str(exc.args[0])) from None
    except LookupError as exc:
        raise HTTPException(503, for_people(exc)) from None
    try:
        pushed = push_zones(svc.cameras.client, _file(svc), camera_id, who.person_id or who.name)
    except PushFailed as exc:
        return {"camera_id": camera_id, "zones": stored, "edge_id": None, "pushed_version": None,
                "push_error": exc.message}
    except LookupError as exc:  # no box named for the camera: saved in the file only
        return {"camera_id": camera_id, "zones": stored, "edge_id": None, "pushed_version": None,
                "push_error": for_people(exc)}
    return {"camera_id": camera_id, "zones": stored, "edge_id": pushed.edge_id, "pushed_version": pushed.version,
            "push_error": None}
