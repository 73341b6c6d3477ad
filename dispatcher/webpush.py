"""Web Push (RFC 8030/8291/8292): VAPID keys and sending one encrypted message."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid, b64urlencode
from pywebpush import WebPushException, webpush
from sqlalchemy.orm import sessionmaker

from dispatcher.outbound import GuardedClient, UrlRefused


@dataclass(frozen=True)
class PushResult:
    ok: bool
    status: int | None
    detail: str
    gone: bool = False  # the subscription no longer exists (404/410): forget it


class VapidKeys:
    """The town's VAPID key pair, made by the first dispatcher to start and shared by all
    through the database (dispatcher/sharedstate.py): a phone subscribed through one
    dispatcher is pushed to by any. An older dispatcher's ``data_dir/vapid_private.pem``
    seeds it, so existing subscriptions keep working."""

    def __init__(self, sessions: sessionmaker, data_dir: str | Path) -> None:
        from dispatcher.sharedstate import shared_secret

        def make() -> str:
            fresh = Vapid()
            fresh.generate_keys()
            return fresh.private_pem().decode()

        pem = shared_secret(sessions, "vapid_private_pem", make, Path(data_dir) / "vapid_private.pem")
        self.vapid = Vapid.from_pem(pem.encode())
        raw = self.vapid.public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self.application_server_key = b64urlencode(raw)


@dataclass(frozen=True)
class _Reply:
    """What pywebpush reads of an answer: its status, never its body."""

    status_code: int
    reason: str
    headers: dict[str, str]
    text: str = ""


class GuardedPoster:
    """Stands in for the ``requests`` session pywebpush posts with, so that the POST to the
    push service goes through the outbound guard (dispatcher/outbound.py)."""

    def __init__(self, http: GuardedClient) -> None:
        self.http = http

    def post(self, url: str, timeout: float | None = None, data: bytes | None = None,
             headers: Any = None) -> _Reply:
        response = self.http.post(url, content=data, headers=dict(headers or {}), timeout=timeout)
        kept = {k: v for k, v in response.headers.items() if k.lower() == "retry-after"}
        return _Reply(response.status_code, response.reason_phrase, kept)


def send_push(
    keys: VapidKeys, subscription: dict[str, Any], message: dict[str, Any], subject: str, ttl_s: int,
    http: GuardedClient,
) -> PushResult:
    endpoint = subscription["endpoint"]
    parts = urlsplit(endpoint)
    claims = {"sub": subject, "aud": f"{parts.scheme}://{parts.netloc}"}
    try:
        response = webpush(
            subscription_info=subscription,
            data=json.dumps(message),
            vapid_private_key=keys.vapid,
            vapid_claims=claims,
            ttl=ttl_s,
            timeout=10,
            requests_session=GuardedPoster(http),  # type: ignore[arg-type]
        )
    except UrlRefused as exc:
        return PushResult(False, None, f"endpoint refused: {exc}", gone=True)
    except WebPushException as exc:
        status = exc.response.status_code if exc.response is not None else None
        return PushResult(False, status, f"push service answered {status}", gone=status in (404, 410))
    except httpx.HTTPError as exc:
        return PushResult(False, None, f"push service not reached: {type(exc).__name__}")
    return PushResult(True, response.status_code, f"push service answered {response.status_code}")
