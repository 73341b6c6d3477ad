"""Tells people about their cases: each person's chain of channels, off the ingest thread.

A case is *delivered* only when a channel confirms it (an app message or robot post the
platform took for that person, an SMS gateway's acceptance or receipt, a webhook's 2xx, the
phone's receipt of a Web Push) or the person opens it; a Web Push the push service took is
only *sent*, since in mainland China it often never reaches an Android phone.

The chain runs one place at a time (``NotificationRow.position``). After a place:
- confirmed: the case is delivered, later places are skipped;
- every row failed: a ``deliver`` timer due now moves on to the next place;
- sent, not confirmed: a ``deliver`` timer waits ``confirm_wait_s`` for the receipt first.
When the ``deliver`` timer fires (``dispatcher.escalation``, once across dispatchers) and the
case is still not delivered, the next place is tried or, at the end of the chain, the case
escalates. Every attempt's outcome is stored on its row.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import sessionmaker

from dispatcher.cases import OWNER_PREFIX, CaseService
from dispatcher.channels import ChannelSet, Message, SendResult
from dispatcher.config import ChannelsConfig, WebPushConfig
from dispatcher.db import CaseRow, NotificationRow, PushSubscriptionRow, now
from dispatcher.grid import ChannelRef, Person, Shop
from dispatcher.links import SignedLinks
from dispatcher.outbound import GuardedClient, OutboundGuard
from dispatcher.sharedstate import SharedRateLimiter
from dispatcher.webpush import VapidKeys, send_push
from i18n import Msg, Translator, translator
from i18n.terms import term
from i18n.timefmt import short_time

log = logging.getLogger(__name__)

def message_for(case: CaseRow, public_url: str, receipt_url: str, tr: Translator | None = None,
                timezone: str = "Asia/Shanghai", grid_name: str | None = None, image_url: str | None = None,
                accept_by: datetime | None = None) -> Message:
    """The notice of ``case`` in ``tr``'s language (the town's), its times local to ``timezone``:
    the kind with its standard event code, where, since when, and by when to handle it (or, not
    yet accepted, to accept it: ``accept_by``)."""
    tr = tr or translator()
    kind = term(tr, "kind", case.kind)
    place = f"{case.micro_grid} {grid_name}".strip() if grid_name else case.micro_grid
    since = short_time(case.started_at or case.opened_at, timezone, tr.locale)
    due = case.handle_due_at or accept_by
    deadline = short_time(due, timezone, tr.locale) if due else ""
    body = tr._("{place} · camera {camera} zone {zone} · standing since {since}",
                place=place, camera=case.camera_id, zone=case.zone_id, since=since)
    if case.handle_due_at:
        body += tr._(", please handle by {deadline}", deadline=deadline)
    elif deadline:
        body += tr._(", please accept by {deadline}", deadline=deadline)
    return Message(
        case_id=case.id,
        title=tr._("{kind} ({code})", kind=kind, code=case.event_code) if case.event_code else kind,
        body=body,
        url=f"{public_url}/worker/?case={case.id}",
        receipt_url=receipt_url,
        image_url=image_url,
        open_label=tr._("View case"),
        fields={"kind": kind, "code": case.event_code or "", "place": place, "camera": case.camera_id,
                "since": since, "deadline": deadline, "case_id": str(case.id)},
    )


def owner_notice(case: CaseRow, shop: Shop, tr: Translator, timezone: str, grace_min: float,
                 notice: Message) -> Message:
    """The rectification notice (整改通知) to a shop's owner: what the camera saw before their
    shop, by when to put it right, and that a worker comes otherwise; the snapshot's link."""
    due = short_time((case.opened_at or now()) + timedelta(minutes=grace_min), timezone, tr.locale)
    body = tr._("The camera saw {kind} in front of {shop}. Please put it right by {deadline}; otherwise a grid "
                "worker will be sent.", kind=term(tr, "kind", case.kind), shop=shop.name, deadline=due)
    return replace(notice, title=tr._("Rectification notice"), body=body, url=notice.image_url or notice.url,
                   fields={**notice.fields, "shop": shop.name, "owner": shop.owner, "deadline": due})


class SubscriptionTaken(ValueError):
    """A push endpoint already kept with other keys."""


class Notifier:
    def __init__(
        self, sessions: sessionmaker, cases: CaseService, keys: VapidKeys, webpush: WebPushConfig,
        channels: ChannelsConfig, links: SignedLinks, public_url: str, guard: OutboundGuard,
        locale: str = "zh-CN", timezone: str = "Asia/Shanghai",
    ) -> None:
        self.tr = translator(locale)  # notices are in the town's language
        self.timezone = timezone
        self.sessions = sessions
        self.cases = cases
        self.keys = keys
        self.webpush = webpush
        self.cfg = channels
        self.channels = ChannelSet(channels, GuardedClient(guard, timeout=channels.timeout_s),
                                   SharedRateLimiter(sessions))  # a robot's limit is the town's, not each dispatcher's
        self.push_http = GuardedClient(guard, push=True, timeout=channels.timeout_s)
        self.links = links
        self.public_url = public_url
        self.pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="notify")
        self._closing = False

    def submit(self, notification_ids: Iterable[int]) -> None:
        """Send these pending rows, one task per (case, person, place) so that the place's
        outcome is judged on all its rows (a person's several phones)."""
        ids = list(notification_ids)
        if not ids:
            return
        with self.sessions() as session:
            rows = session.execute(select(
                NotificationRow.id, NotificationRow.case_id, NotificationRow.person_id, NotificationRow.position,
            ).where(NotificationRow.id.in_(ids))).all()
        groups: dict[tuple[int, str, int], list[int]] = {}
        for nid, case_id, person_id, position in rows:
            groups.setdefault((case_id, person_id, position), []).append(nid)
        for (case_id, person_id, _), group in groups.items():
            self.pool.submit(self._run_place, case_id, person_id, group)

    def _run_place(self, case_id: int, person_id: str, ids: list[int]) -> None:
        try:
            outcomes = [self._deliver(nid) for nid in ids]
            sent = [o for o in outcomes if o is not None and o.ok]
            with self.sessions() as session:
                if any(o.confirmed for o in sent):
                    self._skip_rest(session, case_id, person_id)
                    self.cases.mark_delivered(session, case_id, person_id, Msg("a channel confirmed delivery"))
                else:
                    wait = timedelta(seconds=self.cfg.confirm_wait_s) if sent else timedelta(0)
                    self.cases.delivery_check(session, case_id, person_id, now() + wait)
                session.commit()
        except Exception:  # a worker thread must log, never die silently
            if self._closing:  # the process is stopping and closed the HTTP clients under it
                log.info("notifying %s of case %s stopped by shutdown", person_id, case_id)
            else:
                log.exception("notifying %s of case %s failed", person_id, case_id)

    def _skip_rest(self, session, case_id: int, person_id: str) -> None:
        session.execute(update(NotificationRow).where(
            NotificationRow.case_id == case_id, NotificationRow.person_id == person_id,
            NotificationRow.status.in_(["standby", "pending"])).values(status="skipped", updated_at=now()))

    def _deliver(self, notification_id: int) -> SendResult | None:
        """Send one row with retries and backoff; its outcome is stored on it. None when
        another dispatcher (or an earlier call) took the row."""
        with self.sessions() as session:
            claimed = session.execute(update(NotificationRow).where(
                NotificationRow.id == notification_id, NotificationRow.status == "pending",
            ).values(status="sending", updated_at=now())).rowcount
            session.commit()
            if claimed != 1:
                return None
            note = session.get(NotificationRow, notification_id)
            case = session.get(CaseRow, note.case_id)
            person = self.cases.grid.person(note.person_id)
            grid = self.cases.grid.micro_grid(case.micro_grid)
            accept_by = (None if case.accepted_at or not case.opened_at
                         else self.cases.escalation.accept_due(case.kind, case.opened_at))
            message = message_for(case, self.public_url, self.links.receipt_url(notification_id), self.tr,
                                  self.timezone, grid.name if grid else None,
                                  self.links.sign(case.snapshot_url), accept_by)
            owner = None  # a shop owner's rectification notice: (their phone, the notice)
            if note.person_id.startswith(OWNER_PREFIX):
                shop = self.cases.grid.shop(note.person_id.removeprefix(OWNER_PREFIX))
                if shop is not None and shop.phone:
                    owner = (shop.phone, owner_notice(case, shop, self.tr, self.timezone,
                                                      self.cases.shop_notice.grace_min, message))
            channel, position, sub_id = note.channel, note.position, note.subscription_id
            subscription = session.get(PushSubscriptionRow, sub_id) if sub_id else None
            push_to = ({"endpoint": subscription.endpoint,
                        "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth}} if subscription else None)
        delay = self.cfg.first_retry_s
        result = SendResult(False, "not tried")
        for attempt in range(1, self.cfg.attempts + 1):
            if owner is not None:
                result = self.text(*owner)
            elif channel == "webpush":
                result = self._push(push_to, message)
            elif person is None or position >= len(person.channels):
                result = SendResult(False, "the person or channel is no longer in the grid file", retry=False)
            else:
                result = self.channels.send(person.channels[position], person, message)
            self._store(notification_id, attempt, result)
            if result.ok or not result.retry:
                break
            log.warning("notification %s (%s) attempt %d failed: %s", notification_id, channel, attempt,
                        result.detail)
            if attempt < self.cfg.attempts:
                time.sleep(delay)
                delay *= 2
        return result

    def text(self, phone: str, message: Message) -> SendResult:
        """A text to someone who is not a person of the grid (a shop owner, a resident), through
        the SMS gateway."""
        someone = Person.model_construct(id="someone", name="", role="worker", phone=phone,
                                         channels=[ChannelRef(type="sms")])
        return self.channels.send(ChannelRef(type="sms"), someone, message)

    def _push(self, subscription: dict | None, message: Message) -> SendResult:
        if subscription is None:
            return SendResult(False, "subscription removed", retry=False)
        payload = {"case_id": message.case_id, "title": message.title, "body": message.body, "url": message.url,
                   "receipt_url": message.receipt_url}
        pushed = send_push(self.keys, subscription, payload, self.webpush.subject, self.webpush.ttl_s,
                           self.push_http)
        return SendResult(pushed.ok, pushed.detail, confirmed=False, retry=not pushed.gone, gone=pushed.gone)

    def _store(self, notification_id: int, attempt: int, result: SendResult) -> None:
        with self.sessions() as session:
            note = session.get(NotificationRow, notification_id)
            note.attempts, note.detail, note.updated_at = attempt, result.detail, now()
            if result.ok:
                note.status = "delivered" if result.confirmed else "sent"
            elif not result.retry or attempt == self.cfg.attempts:
                note.status = "failed"
                if result.gone and note.subscription_id:
                    stale = session.get(PushSubscriptionRow, note.subscription_id)
                    if stale is not None:
                        session.delete(stale)
            else:
                note.status = "sending"
            session.commit()

    def subscribe(self, person_id: str, endpoint: str, p256dh: str, auth: str) -> int:
        """Keep a phone's Web Push subscription for ``person_id``; its id. A subscription kept
        for someone else moves only when the same browser sends it again (the same keys: a
        phone that changed hands); knowing another phone's endpoint is not enough
        (SubscriptionTaken). The endpoint must be one the pushes may go to (UrlRefused)."""
        self.push_http.guard.check(endpoint, push=True)
        with self.sessions() as session:
            row = session.scalar(select(PushSubscriptionRow).where(PushSubscriptionRow.endpoint == endpoint))
            if row is None:
                row = PushSubscriptionRow(person_id=person_id, endpoint=endpoint, p256dh=p256dh, auth=auth)
                session.add(row)
            elif not hmac.compare_digest(f"{row.p256dh}:{row.auth}".encode(), f"{p256dh}:{auth}".encode()):
                raise SubscriptionTaken("this endpoint is subscribed with other keys")
            else:
                row.person_id = person_id
            session.commit()
            return row.id

    def receipt(self, notification_id: int, delivered: bool, how: str) -> bool:
        """The phone (service worker) or the SMS gateway reports the outcome of one message."""
        with self.sessions() as session:
            note = session.get(NotificationRow, notification_id)
            if note is None or note.channel == "inbox":
                return False
            note.updated_at = now()
            if not delivered:
                note.status, note.detail = "failed", f"receipt: {how}"
                session.commit()
                return True
            note.status, note.detail = "delivered", f"receipt: {how}"
            self._skip_rest(session, note.case_id, note.person_id)
            self.cases.mark_delivered(session, note.case_id, note.person_id, f"receipt from {note.channel}")
            session.commit()
            return True

    def close(self) -> None:
        self._closing = True
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.channels.close()
        self.push_http.close()
