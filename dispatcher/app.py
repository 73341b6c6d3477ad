"""Builds the FastAPI application and serves it with Uvicorn."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import uvicorn
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.exceptions import HTTPException as StarletteHTTPException

from dispatcher.api import ROUTERS
from dispatcher.api.deps import require
from dispatcher.api.shapes import ErrorBody
from dispatcher.config import JSON_BODY_BYTES, DispatcherConfig
from dispatcher.headers import SecurityHeaders
from dispatcher.metrics import registry_for, render
from dispatcher.services import Services
from i18n import negotiate, translator

WEB_DIR = Path(__file__).resolve().parent / "web"

# Query parameters that are secrets: signed links' signatures, and any token or ticket a client
# put in a URL against advice (no route reads them from there).
_SECRET_PARAMS = re.compile(r"(?i)([?&](?:token|access_token|ticket|sig)=)[^&\s\"']*")
SERVER_LOGGERS = ("uvicorn.access", "uvicorn.error")  # the request lines and the WebSocket lines


def redact(text: str) -> str:
    return _SECRET_PARAMS.sub(r"\1[redacted]", text)


class RedactSecrets(logging.Filter):
    """Keeps secrets in URLs out of the server's log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def redact_server_logs() -> None:
    for name in SERVER_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())


def create_app(config: DispatcherConfig, services: Services | None = None) -> FastAPI:
    svc = services or Services.build(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redact_server_logs()  # here: Uvicorn has configured its loggers by now
        svc.feed.bind(asyncio.get_running_loop())
        svc.start()
        try:
            yield
        finally:
            svc.close()

    # Every request body is read no further than its route allows (Starlette's body limit):
    # small for JSON, larger on the routes that take images or a whole grid (max_body_size).
    app = FastAPI(title="GridPatrol dispatcher", version="0.1.0", lifespan=lifespan, max_body_size=JSON_BODY_BYTES,
                  responses={422: {"model": ErrorBody, "description": "A bad field, or a request that does not apply"}})
    app.state.services = svc
    tiles = config.http.map()
    app.add_middleware(SecurityHeaders, map_tiles=tiles.tiles, map_labels=tiles.labels)
    registry = registry_for(svc)

    @app.get("/metrics", include_in_schema=False, dependencies=[Depends(require("monitor", "admin"))])
    def metrics() -> Response:
        return Response(render(registry), media_type=CONTENT_TYPE_LATEST)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        """422 naming each bad field, without echoing what was sent: an input may be huge, a
        secret, or a number JSON cannot carry (NaN, which made the answer itself fail: 500)."""
        errors = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))[:300], "type": e.get("type")}
                  for e in exc.errors()[:20]]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def refused(request: Request, exc: StarletteHTTPException) -> Response:
        """Errors for people in the reader's language (``Accept-Language``, the pages send the
        one chosen there; else the town's); validation details stay technical."""
        if exc.status_code in (204, 304):
            return Response(status_code=exc.status_code, headers=exc.headers)
        tr = translator(negotiate(request.headers.get("accept-language"), svc.config.locale))
        detail = tr.msg(exc.detail) if isinstance(exc.detail, str) else exc.detail
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)

    for router in ROUTERS:
        app.include_router(router)
    app.mount("/shared", StaticFiles(directory=WEB_DIR / "shared"), name="shared")
    app.mount("/worker", StaticFiles(directory=WEB_DIR / "worker", html=True), name="worker")
    app.mount("/rate", StaticFiles(directory=WEB_DIR / "rate", html=True), name="rate")
    app.mount("/console", StaticFiles(directory=WEB_DIR / "console", html=True), name="console")

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/worker/")

    return app


def uvicorn_config(config: DispatcherConfig, app: FastAPI, log_level: str = "info") -> uvicorn.Config:
    return uvicorn.Config(app, host=config.http.host, port=config.http.port, log_level=log_level,
                          proxy_headers=True, forwarded_allow_ips=config.http.trusted_proxies)


def serve(config: DispatcherConfig, log_level: str = "info") -> None:
    uvicorn.Server(uvicorn_config(config, create_app(config), log_level)).run()
