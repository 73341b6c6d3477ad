"""The HTTP API (FastAPI routers). Every route needs a bearer token except ``/healthz`` and the
pages' words (``/api/v1/i18n``)."""

from dispatcher.api import (
    auth,
    cameras,
    cases,
    evidence,
    feed,
    grid,
    health,
    i18n,
    notifications,
    people,
    stats,
    zones,
)

ROUTERS = (health.router, i18n.router, auth.router, cases.router, people.router, evidence.router, feed.router,
           stats.router, notifications.router, grid.router, cameras.router, zones.router)

__all__ = ["ROUTERS"]
