"""Delivers the pending Web Push notifications of a case, off the ingest thread.

The in-app inbox needs no delivery (the worker page reads it); a push that fails is retried
with backoff and its outcome stored on the notification row, so nothing is silently lost.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.orm import sessionmaker

from dispatcher.config import WebPushConfig
from dispatcher.db import CaseRow, NotificationRow, PushSubscriptionRow, now
from dispatcher.webpush import VapidKeys, send_push

log = logging.getLogger(__name__)

KIND_TITLES = {"parked_bike": "Illegally parked bike", "cross_door_trading": "Goods outside the shop door"}


class Notifier:
    def __init__(
        self, sessions: sessionmaker, keys: VapidKeys, cfg: WebPushConfig, public_url: str,
        attempts: int = 3, first_retry_s: float = 2.0,
    ) -> None:
        self.sessions = sessions
        self.keys = keys
        self.cfg = cfg
        self.public_url = public_url
        self.attempts = attempts
        self.first_retry_s = first_retry_s
        self.pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="notify")

    def submit(self, notification_ids: Iterable[int]) -> None:
        for nid in notification_ids:
            self.pool.submit(self._deliver, nid)

    def message_for(self, case: CaseRow) -> dict[str, object]:
        return {
            "case_id": case.id,
            "title": KIND_TITLES.get(case.kind, case.kind),
            "body": f"{case.camera_id} / {case.zone_id} in {case.micro_grid}, standing {case.dwell_s:.0f}s",
            "url": f"{self.public_url}/worker/?case={case.id}",
        }

    def _deliver(self, notification_id: int) -> None:
        try:
            with self.sessions() as session:
                note = session.get(NotificationRow, notification_id)
                if note is None or note.channel != "webpush" or note.status != "pending":
                    return
                sub = session.get(PushSubscriptionRow, note.subscription_id) if note.subscription_id else None
                case = session.get(CaseRow, note.case_id)
                if sub is None or case is None:
                    note.status, note.detail, note.updated_at = "failed", "subscription removed", now()
                    session.commit()
                    return
                subscription = {"endpoint": sub.endpoint, "keys": {"p256dh": sub.p256dh, "auth": sub.auth}}
                message = self.message_for(case)
            delay = self.first_retry_s
            for attempt in range(1, self.attempts + 1):
                result = send_push(self.keys, subscription, message, self.cfg.subject, self.cfg.ttl_s)
                with self.sessions() as session:
                    note = session.get(NotificationRow, notification_id)
                    note.attempts, note.detail, note.updated_at = attempt, result.detail, now()
                    if result.ok:
                        note.status = "delivered"
                    elif result.gone or attempt == self.attempts:
                        note.status = "failed"
                        if result.gone:
                            stale = session.get(PushSubscriptionRow, note.subscription_id)
                            if stale is not None:
                                session.delete(stale)
                    session.commit()
                if result.ok or result.gone:
                    return
                log.warning("push %s attempt %d failed: %s", notification_id, attempt, result.detail)
                if attempt < self.attempts:
                    time.sleep(delay)
                    delay *= 2
        except Exception:  # a worker thread must log, never die silently
            log.exception("delivering notification %s failed", notification_id)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
