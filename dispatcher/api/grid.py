"""The grid: its hierarchy and areas for the console's map, and its administration (a whole
new grid, or just rosters and leave), saved as versions that every dispatcher picks up."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field

from dispatcher.api.deps import ServicesDep, for_people, require
from dispatcher.api.shapes import FeatureCollection, GridVersion, GridVersionView, GridView
from dispatcher.auth import SEES_ALL, Principal
from dispatcher.config import GRID_BODY_BYTES
from dispatcher.gridstore import GridRejected, grid_document, grid_from_document
from dispatcher.services import Services
from i18n import Msg

router = APIRouter(prefix="/api/v1/grid", tags=["grid"])
Viewer = Annotated[Principal, Depends(require("admin", "dispatcher", "leader"))]
Editor = Annotated[Principal, Depends(require("admin", "dispatcher"))]
Admin = Annotated[Principal, Depends(require("admin"))]


def _shops_for(svc: Services, who: Principal) -> list[dict[str, Any]]:
    """The shops with their owners' phones: all for staff; a leader's own micro-grids' only."""
    shops = svc.grid.shops
    if who.role not in SEES_ALL:
        led = {g.id for g in svc.grid.micro_grids if g.leader == who.person_id}
        shops = [s for s in shops if s.micro_grid in led]
    return [s.model_dump() for s in shops]


@router.get("", response_model=GridView)
def hierarchy(svc: ServicesDep, who: Viewer) -> dict[str, Any]:
    """Town → communities → micro-grids with their people and open cases; departments; shops
    (a leader sees the shops of the micro-grids they lead)."""
    grid, open_cases = svc.grid, svc.cases.open_by_micro_grid()
    names = {p.id: p.name for p in grid.people}

    def cell(g: Any) -> dict[str, Any]:
        return {"id": g.id, "name": g.name, "worker": g.worker, "worker_name": names.get(g.worker),
                "stand_in": g.stand_in, "leader": g.leader, "leader_name": names.get(g.leader),
                "open_cases": open_cases.get(g.id, 0), "has_area": bool(grid.areas and g.id in grid.areas.shapes)}

    communities = [{"id": c.id, "name": c.name} for c in grid.communities]
    known = {c["id"] for c in communities}
    communities += [{"id": cid, "name": cid} for cid in dict.fromkeys(g.community for g in grid.micro_grids)
                    if cid not in known]
    for community in communities:
        community["micro_grids"] = [cell(g) for g in grid.micro_grids if g.community == community["id"]]
    return {"town": grid.town, "version": svc.grid_watcher.current_id if svc.grid_watcher else None,
            "communities": communities,
            "departments": {k.value: v for k, v in grid.departments.items()},
            "shops": _shops_for(svc, who),
            "unlocated_open_cases": open_cases.get("unlocated", 0),
            "map": svc.config.http.map().model_dump()}


@router.get("/areas", response_model=FeatureCollection)
def areas(svc: ServicesDep, _: Viewer) -> dict[str, Any]:
    """The communities' and micro-grids' areas as GeoJSON, with name, level and open cases."""
    grid = svc.grid
    if grid.areas is None:
        raise HTTPException(404, Msg("the grid has no areas (set areas_file in the grid file)"))
    open_cases = svc.cases.open_by_micro_grid()
    props: dict[str, dict[str, Any]] = {c.id: {"name": c.name, "level": "community"} for c in grid.communities}
    props |= {g.id: {"name": g.name, "level": "micro_grid", "community": g.community,
                     "open_cases": open_cases.get(g.id, 0)} for g in grid.micro_grids}
    return grid.areas.feature_collection(props)


class GridBody(BaseModel):
    document: dict[str, Any] = Field(description="A whole grid, as GET /api/v1/grid/document returns it")
    note: str | None = Field(default=None, max_length=500)


class ListBody(BaseModel):
    items: list[dict[str, Any]]
    note: str | None = Field(default=None, max_length=500)


def _save(svc: Services, who: Principal, document: dict[str, Any], note: str | None) -> dict[str, Any]:
    try:
        grid = grid_from_document(document)
        version = svc.save_grid(grid, who.person_id or who.name, note)
    except GridRejected as exc:
        raise HTTPException(422, for_people(exc)) from None
    return {"version": version}


@router.get("/document", response_model=dict[str, Any])
def get_document(svc: ServicesDep, _: Editor) -> dict[str, Any]:
    return grid_document(svc.grid)


@router.put("/document", max_body_size=GRID_BODY_BYTES, response_model=GridVersion)
def put_document(body: GridBody, svc: ServicesDep, who: Admin) -> dict[str, Any]:
    """Replace the whole grid (people, micro-grids, areas, ...): a new version, in force at once
    here and within a poll interval on every other dispatcher."""
    return _save(svc, who, body.document, body.note)


@router.put("/rosters", max_body_size=GRID_BODY_BYTES, response_model=GridVersion)
def put_rosters(body: ListBody, svc: ServicesDep, who: Editor) -> dict[str, Any]:
    """Replace the rosters (who is on duty for which micro-grid when)."""
    return _save(svc, who, grid_document(svc.grid) | {"rosters": body.items}, body.note)


@router.put("/leave", max_body_size=GRID_BODY_BYTES, response_model=GridVersion)
def put_leave(body: ListBody, svc: ServicesDep, who: Editor) -> dict[str, Any]:
    """Replace the leave list (who is away, first and last day)."""
    return _save(svc, who, grid_document(svc.grid) | {"leave": body.items}, body.note)


@router.get("/versions", response_model=list[GridVersionView])
def versions(svc: ServicesDep, _: Admin) -> list[dict[str, Any]]:
    return svc.grids.versions()
