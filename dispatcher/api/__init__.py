"""The HTTP API (FastAPI routers). Every route needs a bearer token except ``/healthz``."""

from dispatcher.api import auth, cameras, cases, evidence, feed, grid, health, notifications, people, stats, zones

ROUTERS = (health.router, auth.router, cases.router, people.router, evidence.router, feed.router, stats.router,
           notifications.router, grid.router, cameras.router, zones.router)

__all__ = ["ROUTERS"]
