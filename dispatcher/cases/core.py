"""What every part of the case service shares: the results it returns, the people's
notification chains, and the helpers that record a step, start and stop timers, dispatch a
case and notify a person, all inside the caller's transaction."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from contract import ViolationKind
from dispatcher.cases.views import CITY_FIELDS, city_payload
from dispatcher.config import DedupConfig, DispatcherConfig, EscalationConfig, ShopNoticeConfig
from dispatcher.db import (
    CaseEvidenceRow,
    CaseRow,
    CaseTransitionRow,
    EvidenceUploadRow,
    NotificationRow,
    OutboundRow,
    PushSubscriptionRow,
    TimerRow,
    insert_rows,
    now,
)
from dispatcher.evidence import SHA256
from dispatcher.grid import ChannelRef, Grid
from dispatcher.lifecycle import CaseState, Role, TransitionError
from i18n import DEFAULT_LOCALE, Msg, Word, translator


class KnownSubscriptions(Protocol):
    """Push subscriptions looked up once per ingest batch (``spots.Batch``)."""

    def subscriptions(self, session: Session, person_id: str) -> list[int]: ...


log = logging.getLogger(__name__)

CAMERA = "camera"  # the actor of the camera's steps in the audit trail
SYSTEM = "system"  # the dispatcher's own (routing, timers)
UNLOCATED = "unlocated"  # the micro-grid of an event no area or shop places
MAX_EXTEND_MIN = 30 * 24 * 60.0  # a deadline moves at most 30 days at a time


def uploader_key(person_id: str | None, token_id: int | None = None) -> str:
    """How an upload's uploader is recorded: a person, or a machine token."""
    return f"person:{person_id}" if person_id is not None else f"token:{token_id}"


class CaseActionError(ValueError):
    """An action that does not apply to the case in its present state."""


@dataclass(frozen=True)
class IngestResult:
    duplicate: bool
    case_id: int | None
    opened: bool
    deliveries: tuple[int, ...] = ()  # notifications a channel must still deliver (Web Push)
    refused: str | None = None  # quarantined instead of applied, and why


@dataclass(frozen=True)
class ActionResult:
    case: dict[str, Any]
    deliveries: tuple[int, ...] = ()


OWNER_PREFIX = "shop:"  # the person id of a shop owner's notice (owners are not people of the grid)


def deliveries(notes: list[NotificationRow]) -> tuple[int, ...]:
    """Ids of the notifications to send now: the first place of each chain (the inbox needs
    no sending; later places wait on standby until the earlier fail)."""
    return tuple(n.id for n in notes if n.channel != "inbox" and n.status == "pending")


def chain_rows(grid: Grid, person_id: str, subscriptions: list[int]) -> list[dict[str, Any]]:
    """The notification rows that tell ``person_id`` about a case: the inbox entry, then the
    person's channels in their order (``position`` is the index in the grid file's list); the
    first present is pending, the rest on standby. Web Push has a row per subscribed phone and
    no row without one."""
    person = grid.person(person_id)
    chain = person.channels if person else [ChannelRef(type="webpush")]
    rows: list[dict[str, Any]] = [{"person_id": person_id, "channel": "inbox", "status": "unread", "position": 0,
                                   "address": None, "subscription_id": None}]
    for position, ref in enumerate(chain):
        if ref.type == "webpush":
            targets = [(f"webpush:{sub}", sub) for sub in subscriptions]
        else:
            targets = [(ref.address(person), None)] if person else []
        status = "pending" if len(rows) == 1 else "standby"
        rows += [{"person_id": person_id, "channel": ref.type, "status": status, "position": position,
                  "address": address, "subscription_id": sub} for address, sub in targets]
    return rows


def subscriptions_of(session: Session, people: list[str]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {p: [] for p in people}
    rows = session.execute(
        select(PushSubscriptionRow.person_id, PushSubscriptionRow.id).where(PushSubscriptionRow.person_id.in_(people))
    )
    for person_id, sub_id in rows:
        found[person_id].append(sub_id)
    return found


def link_evidence(session: Session, refs: dict[tuple[int, str], str]) -> None:
    """Record that case ``id`` references image ``sha256`` (as ``role``), once each."""
    if not refs:
        return
    existing = set(session.execute(select(CaseEvidenceRow.case_id, CaseEvidenceRow.sha256).where(
        CaseEvidenceRow.case_id.in_({c for c, _ in refs}), CaseEvidenceRow.sha256.in_({h for _, h in refs}))).all())
    insert_rows(session, CaseEvidenceRow, [{"case_id": c, "sha256": h, "role": role}
                                           for (c, h), role in refs.items() if (c, h) not in existing])


def consultation_of(case: CaseRow, grid: Grid) -> list[str]:
    """Who takes part in a case's consultation (会商): its worker, the micro-grid's leader, the
    line department for its kind (the grid's assigned staff)."""
    people = [case.worker_id, case.leader_id, case.department_id or grid.departments.get(ViolationKind(case.kind))]
    return list(dict.fromkeys(p for p in people if p))


def own_photo(session: Session, photo: object, person_id: str, field: str) -> str:
    """``photo``, the SHA-256 of an image ``person_id`` uploaded (an after photo, a leader's
    photo on site, a patrol report's, a consultation note's); ``TransitionError`` naming
    ``field`` otherwise."""
    if not (isinstance(photo, str) and SHA256.match(photo)):
        raise TransitionError(Msg("{field} must be the photo's 64 lower-case hex digits", field=field))
    if session.get(EvidenceUploadRow, (photo, uploader_key(person_id))) is None:
        raise TransitionError(Msg("{field} must be a photo you uploaded", field=field))
    return photo


def said(message: Msg) -> dict[str, Any]:
    """A system's message as the audit trail keeps it: msgid and values (plain text)."""
    return {"msgid": message.msgid,  # a word among the values keeps its msgid too: {"t": msgid}
            "values": {k: {"t": v.msgid} if isinstance(v, Word) else str(v) for k, v in message.values.items()}}


class CaseCore:
    """The state and helpers the intake, the actions and delivery share."""

    def __init__(
        self, sessions: sessionmaker, grid: Grid, escalation: EscalationConfig | None = None,
        dedup: DedupConfig | None = None, event_codes: dict[ViolationKind, str] | None = None,
    ) -> None:
        self.sessions = sessions
        self.grid = grid
        self.escalation = escalation or EscalationConfig()
        self.dedup = dedup or DedupConfig()
        self.event_codes = event_codes if event_codes is not None else DispatcherConfig().event_codes
        self.city_webhook = False  # set by the dispatcher when a city platform is configured
        self.town_words = translator(DEFAULT_LOCALE)  # the city summaries' language (the town's)
        self.shop_notice = ShopNoticeConfig()  # shop owners told first (set from the dispatcher config)
        self.timezone = "Asia/Shanghai"

    def _record(
        self, session: Session, case: CaseRow, action: str, before: CaseState | None, after: CaseState, actor: str,
        role: Role, reason: str | None, data: dict[str, Any],
    ) -> None:
        """One step of the audit trail. A reason the system wrote (a :class:`i18n.Msg`) keeps
        its msgid and values in ``data["said"]``, so pages show it in the reader's language."""
        if isinstance(reason, Msg):
            data = {**data, "said": said(reason)}
        case.transitions.append(CaseTransitionRow(
            action=action, from_state=before.value if before else None, to_state=after.value,
            actor_id=actor, actor_role=role.value, reason=None if reason is None else str(reason), data=data, at=now(),
        ))

    def _tell_city(self, session: Session, case: CaseRow, topic: str) -> None:
        if self.city_webhook:
            values = {k: getattr(case, k) for k in CITY_FIELDS}
            payload = city_payload(topic, values, self.town_words, self.timezone)
            session.add(OutboundRow(target="city", case=case, topic=topic, payload=payload))

    def _start_timer(self, session: Session, case: CaseRow, purpose: str, due: datetime) -> None:
        case.timers.append(TimerRow(purpose=purpose, due_at=due))

    def _cancel_timers(self, session: Session, case: CaseRow, purpose: str | None = None) -> None:
        if case.id is None:
            return  # a case not yet stored has no stored timers
        query = update(TimerRow).where(
            TimerRow.case_id == case.id, TimerRow.fired_at.is_(None), TimerRow.cancelled_at.is_(None)
        )
        if purpose:
            query = query.where(TimerRow.purpose == purpose)
        session.execute(query.values(cancelled_at=now()))

    def notify(
        self, session: Session, case: CaseRow, person_id: str, batch: KnownSubscriptions | None = None
    ) -> list[NotificationRow]:
        """An inbox entry for ``person_id`` and one Web Push per subscribed device. The rows
        get their ids when the session flushes."""
        subs = batch.subscriptions(session, person_id) if batch else subscriptions_of(session, [person_id])[person_id]
        rows = [NotificationRow(**row) for row in chain_rows(self.grid, person_id, subs)]
        case.notifications.extend(rows)
        case.delivered_at = None  # a new person to reach
        return rows

    def _dispatch(
        self, session: Session, case: CaseRow, worker_id: str, actor: str, role: Role, reason: str | None,
        batch: KnownSubscriptions | None = None,
    ) -> list[NotificationRow]:
        previous = CaseState(case.state)
        case.state, case.worker_id, case.assignee_id, case.escalation_level = (
            CaseState.dispatched.value, worker_id, worker_id, 0)
        first = previous in (CaseState.reported, CaseState.owner_notified)
        self._record(session, case, "dispatch" if first else "reroute", previous,
                     CaseState.dispatched, actor, role, reason, {"assignee_id": worker_id})
        self._cancel_timers(session, case)
        self._start_timer(session, case, "accept", self.escalation.accept_due(case.kind, now()))
        return self.notify(session, case, worker_id, batch)
