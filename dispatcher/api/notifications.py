"""Delivery receipts: called back by the phone when it shows a Web Push, or by an SMS
gateway with its delivery report. No token: the URL itself is signed per notification."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, HTTPException

from dispatcher.api.deps import RowId, ServicesDep
from i18n import Msg

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])


@router.post("/{notification_id}/receipt", status_code=204, operation_id="post_receipt")
@router.get("/{notification_id}/receipt", status_code=204, operation_id="get_receipt",
            description="The same, for gateways that call back with GET")
def receipt(notification_id: RowId, sig: str, svc: ServicesDep,
            status: Literal["delivered", "failed"] = "delivered") -> None:
    if not svc.links.receipt_valid(notification_id, sig):
        raise HTTPException(403, Msg("not a genuine receipt link"))
    if not svc.notifier.receipt(notification_id, status == "delivered", f"{status} (callback)"):
        raise HTTPException(404, Msg("no notification {id} to confirm", id=notification_id))
