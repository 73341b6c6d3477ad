"""The HTTP API (FastAPI routers). Every route needs a bearer token except ``/healthz``, the
pages' words (``/api/v1/i18n``) and a resident's rating (``/api/v1/rating``, by its link's secret)."""

from dispatcher.api import (
    auth,
    cameras,
    cases,
    consultations,
    evidence,
    feed,
    grid,
    health,
    i18n,
    notifications,
    people,
    ratings,
    reports,
    stats,
    zones,
)

ROUTERS = (health.router, i18n.router, auth.router, cases.router, people.router, evidence.router, feed.router,
           stats.router, notifications.router, grid.router, cameras.router, zones.router, ratings.router,
           reports.router, consultations.router)

__all__ = ["ROUTERS"]
