"""The camera health board: each camera's newest status and its edge box's."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from dispatcher.api.deps import ServicesDep, require
from dispatcher.api.shapes import CameraBoard

router = APIRouter(prefix="/api/v1", tags=["cameras"],
                   dependencies=[Depends(require("admin", "dispatcher", "leader", "monitor"))])


@router.get("/cameras", response_model=CameraBoard)
def cameras(svc: ServicesDep) -> dict[str, Any]:
    """Cameras (``online``, ``offline``, ``stalled``, ``suspended`` with the reason and since
    when) and edge boxes (``online``, or ``offline`` by their last will), as last heard."""
    return {"cameras": svc.cameras.snapshot(), "edges": svc.cameras.edges()}
