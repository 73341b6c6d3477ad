"""A real HTTP server on loopback that records what it is sent and answers as told: the stand-in
for a push service, a messaging platform, the city platform, or an internal service a request
must never reach. The one HTTP server the tests write: a fixed answer (``status``, ``body``,
``headers``), or one computed per request (``respond``)."""

from __future__ import annotations

import hashlib
import hmac
import json
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from gridpatrol.broker import free_port


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body) if self.body else {}


def signed_by(request: Request, secret: str) -> bool:
    """The request carries GridPatrol's webhook signature (the city webhook's and the webhook
    channel's): ``X-GridPatrol-Signature: sha256=HMAC(secret, "<timestamp>.<body>")``."""
    timestamp = request.headers.get("x-gridpatrol-timestamp", "")
    expected = "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + request.body,
                                    hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, request.headers.get("x-gridpatrol-signature", ""))


# An answer: status, body (bytes, or a dict sent as JSON) and extra headers.
Answer = tuple[int, bytes | dict, dict[str, str]]


@dataclass
class Receiver:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    tls: tuple[Path, Path] | None = None  # (certificate, key): serve https
    respond: Callable[[Request], Answer] | None = None  # an answer per request, instead of the fixed one
    received: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                request = Request(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                                  self.rfile.read(length))
                outer.received.append(request)
                status, body, headers = outer.respond(request) if outer.respond else (
                    outer.status, outer.body, outer.headers)
                if isinstance(body, dict):
                    body, headers = json.dumps(body).encode(), {"content-type": "application/json", **headers}
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        scheme = "http"
        if self.tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*self.tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.port = self.server.server_address[1]
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
