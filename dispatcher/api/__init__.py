"""The HTTP API (FastAPI routers). Every route needs a bearer token except ``/healthz``."""

from dispatcher.api import auth, cases, evidence, feed, health, people, stats

ROUTERS = (health.router, auth.router, cases.router, people.router, evidence.router, feed.router, stats.router)

__all__ = ["ROUTERS"]
