"""The zone editor's API: a camera's zones in the town's edge config, and its latest
snapshot to draw them over."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field

from contract.zones import MAX_ZONES
from dispatcher.api.deps import ServicesDep, for_people, require
from dispatcher.api.shapes import CameraZones, SavedZones, ZoneCamera
from dispatcher.services import Services
from dispatcher.zonefile import ZoneFile, ZonesRejected
from i18n import Msg

router = APIRouter(prefix="/api/v1/zones", tags=["zones"], dependencies=[Depends(require("admin", "dispatcher"))])


class ZonesBody(BaseModel):
    zones: list[dict[str, Any]] = Field(max_length=MAX_ZONES, description="The camera's zones (contract/zones.py)")


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
    try:
        camera = _file(svc).camera(camera_id)
    except KeyError as exc:
        raise HTTPException(404, str(exc.args[0])) from None
    except LookupError as exc:
        raise HTTPException(503, for_people(exc)) from None
    return {**camera, "snapshot_url": _snapshot(svc, camera_id)}


@router.put("/{camera_id}", response_model=SavedZones)
def save_zones(camera_id: str, body: ZonesBody, svc: ServicesDep) -> dict[str, Any]:
    """Validate the camera's zones as the edge will (422 naming the bad key) and write them to
    the edge config; boxes apply them when they next start."""
    try:
        stored = _file(svc).save(camera_id, body.zones, {g.id for g in svc.grid.micro_grids},
                                 {shop.id for shop in svc.grid.shops})
    except ZonesRejected as exc:
        raise HTTPException(422, for_people(exc)) from None
    except KeyError as exc:
        raise HTTPException(404, str(exc.args[0])) from None
    except LookupError as exc:
        raise HTTPException(503, for_people(exc)) from None
    return {"camera_id": camera_id, "zones": stored}
