"""What is shown of a case: its summary for the API, its audit trail's steps, and what the
city platform is told."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dispatcher.db import (
    CaseRow,
    CaseTransitionRow,
)

CITY_FIELDS = ("violation_id", "kind", "event_code", "state", "camera_id", "zone_id", "micro_grid", "worker_id",
               "started_at", "opened_at", "closed_at", "void_reason", "repeat_count", "snapshot_url")


def city_payload(topic: str, values: dict[str, Any]) -> dict[str, Any]:
    """What the city platform is told about a case (the case id is added when it is sent)."""
    case = {k: values.get(k) for k in CITY_FIELDS}
    return {"topic": topic, "case": {k: v.isoformat() if isinstance(v, datetime) else v for k, v in case.items()}}


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def case_summary(case: CaseRow) -> dict[str, Any]:
    out: dict[str, Any] = {
        c: getattr(case, c)
        for c in (
            "id", "violation_id", "kind", "event_code", "state", "repeat_of", "repeat_count", "edge_id", "camera_id",
            "zone_id", "micro_grid", "shop_id", "lon", "lat", "worker_id", "leader_id", "department_id", "assignee_id",
            "escalation_level",
            "routing_note", "handling_note", "after_photo_sha256", "verified_by", "rating", "void_reason", "dwell_s",
            "objects", "snapshot_url", "snapshot_sha256", "before_url", "before_sha256", "cleared_snapshot_url",
            "cleared_snapshot_sha256",
        )
    }
    for c in ("started_at", "opened_at", "accepted_at", "handled_at", "verified_at", "closed_at", "handle_due_at",
              "cleared_at", "delivered_at"):
        out[c] = iso(getattr(case, c))
    return out


def transition_summary(row: CaseTransitionRow) -> dict[str, Any]:
    return {"action": row.action, "from": row.from_state, "to": row.to_state, "actor_id": row.actor_id,
            "actor_role": row.actor_role, "reason": row.reason, "data": row.data, "at": row.at.isoformat()}
