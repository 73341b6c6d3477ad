"""Sends the outbound rows to the city platform's webhook, signed, retried, with receipts.

Each POST carries the JSON body, ``X-GridPatrol-Delivery`` (the row id: the receiver's
idempotency key), ``X-GridPatrol-Timestamp`` and ``X-GridPatrol-Signature: sha256=<hex>``,
an HMAC-SHA256 with the shared secret over ``"<timestamp>.<body>"``. A 2xx answer marks the
row delivered; anything else is retried with exponential backoff until ``attempts`` runs
out, then the row is marked failed (and kept, with the last error). Each attempt is claimed
with a conditional update, so several dispatchers never send the same attempt twice.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from datetime import timedelta

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import sessionmaker

from dispatcher.config import CityWebhookConfig
from dispatcher.db import OutboundRow, now
from dispatcher.outbound import GuardedClient, OutboundGuard, UrlRefused, remote_outcome
from dispatcher.periodic import PeriodicWorker

log = logging.getLogger(__name__)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class CityWebhookSender(PeriodicWorker):
    def __init__(self, sessions: sessionmaker, cfg: CityWebhookConfig, guard: OutboundGuard,
                 first_retry_s: float = 2.0) -> None:
        super().__init__("city webhook", cfg.poll_s)
        self.sessions = sessions
        self.cfg = cfg
        self.first_retry_s = first_retry_s
        self.http = GuardedClient(guard, timeout=cfg.timeout_s)

    def tick(self) -> int:
        return self.send_due()

    def send_due(self) -> int:
        """Try every due pending row once; returns how many were delivered."""
        with self.sessions() as session:
            due = session.execute(
                select(OutboundRow.id, OutboundRow.attempts).where(
                    OutboundRow.target == "city", OutboundRow.status == "pending", OutboundRow.next_attempt_at <= now())
                .order_by(OutboundRow.id).limit(100)
            ).all()
        delivered = 0
        for row_id, attempts in due:
            lease = now() + timedelta(seconds=self.cfg.timeout_s * 2)
            with self.sessions() as session:
                claimed = session.execute(
                    update(OutboundRow)
                    .where(OutboundRow.id == row_id, OutboundRow.attempts == attempts, OutboundRow.status == "pending")
                    .values(attempts=attempts + 1, next_attempt_at=lease)
                ).rowcount
                session.commit()
                if claimed != 1:
                    continue
                row = session.get(OutboundRow, row_id)
                body = json.dumps({"delivery_id": row.id, "case_id": row.case_id, **row.payload},
                                  separators=(",", ":"), sort_keys=True).encode()
            ok, status, error = self._post(row_id, body)
            with self.sessions() as session:
                row = session.get(OutboundRow, row_id)
                row.response_status, row.last_error = status, error
                if ok:
                    row.status, row.delivered_at = "delivered", now()
                    delivered += 1
                elif row.attempts >= self.cfg.attempts:
                    row.status = "failed"
                    log.error("city webhook gave up on outbound %s after %d attempts: %s", row_id, row.attempts, error)
                else:
                    row.next_attempt_at = now() + timedelta(seconds=self.first_retry_s * 2 ** (row.attempts - 1))
                session.commit()
        return delivered

    def _post(self, row_id: int, body: bytes) -> tuple[bool, int | None, str | None]:
        timestamp = str(int(time.time()))
        headers = {
            "content-type": "application/json",
            "x-gridpatrol-delivery": str(row_id),
            "x-gridpatrol-timestamp": timestamp,
            "x-gridpatrol-signature": sign(self.cfg.secret, timestamp, body),
        }
        try:
            response = self.http.post(self.cfg.url, content=body, headers=headers)
        except UrlRefused as exc:
            return False, None, f"destination refused: {exc}"
        except httpx.HTTPError as exc:
            return False, None, f"{type(exc).__name__}: {exc}"[:500]
        if 200 <= response.status_code < 300:
            return True, response.status_code, None
        return False, response.status_code, remote_outcome(response, "the city platform")

    def stop(self) -> None:
        super().stop()
        self.http.close()
