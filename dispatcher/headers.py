"""Security headers on every response of the dispatcher.

- ``X-Content-Type-Options: nosniff``: an image is an image (evidence is served as
  ``image/jpeg`` and never sniffed into HTML or script);
- ``Referrer-Policy: no-referrer``: signed evidence links and case URLs never leak to a tile
  server or a navigation app through the Referer header;
- a content security policy: the pages run only their own scripts and styles (no inline
  script, no inline style element), load images from this dispatcher, ``data:``/``blob:``
  (the phone's photo preview) and the map's tile server, connect only to this dispatcher
  (its API and the live feed's WebSocket), and may not be framed by another site.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def tile_source(template: str | None) -> str | None:
    """The CSP source of a tile URL template: its scheme and host, a ``{s}`` subdomain label as
    ``*`` (``https://t{s}.tianditu.gov.cn/...`` -> ``https://*.tianditu.gov.cn``); where the
    varying label is not the first (CSP allows a wildcard only there), the scheme alone."""
    if not template:
        return None
    marker = "tilesubdomainmarker"
    parts = urlsplit(template.replace("{s}", marker))
    if not parts.hostname:
        return None
    labels = parts.hostname.split(".")
    if any(marker in label for label in labels[1:]):
        return f"{parts.scheme}:"
    if marker in labels[0]:
        labels[0] = "*"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{'.'.join(labels)}{port}"


def content_security_policy(extra_images: Iterable[str] = ()) -> str:
    images = " ".join(["'self'", "data:", "blob:", *extra_images])
    return "; ".join([
        "default-src 'self'", "script-src 'self'", "style-src 'self'", f"img-src {images}",
        "connect-src 'self'", "worker-src 'self'", "manifest-src 'self'", "font-src 'self'",
        "object-src 'none'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
    ])


class SecurityHeaders:
    """Pure ASGI middleware (it does not buffer streamed responses such as evidence files)."""

    def __init__(self, app: ASGIApp, map_tiles: str | None = None, map_labels: str | None = None) -> None:
        self.app = app
        tiles = sorted({source for source in (tile_source(map_tiles), tile_source(map_labels)) if source})
        self.headers = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
            (b"content-security-policy", content_security_policy(tiles).encode()),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *((n, v) for n, v in self.headers if n not in present)]
            await send(message)

        await self.app(scope, receive, send_with_headers)
