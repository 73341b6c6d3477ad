"""Liveness, readiness and ingest figures: the one route that needs no login.

503 with the problems when this dispatcher cannot do its work: the database does not answer,
or the broker session is down (events would wait in the broker). The problems name the part,
not its error text (this route is public; the log has the rest)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from dispatcher.api.deps import ServicesDep
from dispatcher.api.shapes import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, responses={503: {"model": Health}})
def healthz(svc: ServicesDep, response: Response) -> dict[str, Any]:
    stats = svc.ingest.stats
    problems = [p for p in (svc.database_problem(), None if stats.connected else "broker: not connected") if p]
    if problems:
        response.status_code = 503
    return {
        "status": "unavailable" if problems else "ok",
        "problems": problems,
        "mqtt_connected": stats.connected,
        "received": stats.received,
        "stored": stats.stored,
        "duplicates": stats.duplicates,
        "quarantined": stats.quarantined,
        "cases_opened": stats.cases_opened,
        "last_error": stats.last_error,
    }
