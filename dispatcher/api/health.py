"""Liveness and ingest figures: the one route that needs no login."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from dispatcher.api.deps import ServicesDep
from dispatcher.api.shapes import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
def healthz(svc: ServicesDep) -> dict[str, Any]:
    stats = svc.ingest.stats
    return {
        "status": "ok",
        "mqtt_connected": stats.connected,
        "received": stats.received,
        "stored": stats.stored,
        "duplicates": stats.duplicates,
        "quarantined": stats.quarantined,
        "cases_opened": stats.cases_opened,
        "last_error": stats.last_error,
    }
