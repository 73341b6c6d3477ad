"""Builds the FastAPI application and serves it with Uvicorn."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import uvicorn
from fastapi import Depends, FastAPI
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST

from dispatcher.api import ROUTERS
from dispatcher.api.deps import require
from dispatcher.config import DispatcherConfig
from dispatcher.metrics import registry_for, render
from dispatcher.services import Services

WEB_DIR = Path(__file__).resolve().parent / "web"


def create_app(config: DispatcherConfig, services: Services | None = None) -> FastAPI:
    svc = services or Services.build(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc.feed.bind(asyncio.get_running_loop())
        svc.start()
        try:
            yield
        finally:
            svc.close()

    app = FastAPI(title="GridPatrol dispatcher", version="0.1.0", lifespan=lifespan)
    app.state.services = svc
    registry = registry_for(svc)

    @app.get("/metrics", include_in_schema=False, dependencies=[Depends(require("monitor", "admin"))])
    def metrics() -> Response:
        return Response(render(registry), media_type=CONTENT_TYPE_LATEST)

    for router in ROUTERS:
        app.include_router(router)
    app.mount("/worker", StaticFiles(directory=WEB_DIR / "worker", html=True), name="worker")
    app.mount("/console", StaticFiles(directory=WEB_DIR / "console", html=True), name="console")

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/worker/")

    return app


def serve(config: DispatcherConfig, log_level: str = "info") -> None:
    uvicorn.run(create_app(config), host=config.http.host, port=config.http.port, log_level=log_level)
