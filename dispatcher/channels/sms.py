"""SMS through an HTTP gateway of the town's choosing: a JSON POST built from a template.

Chinese SMS gateways (Alibaba Cloud, Tencent Cloud, the carriers' own) send only templates the
carrier approved, filled with variables; the body names them: ``{kind}`` (非机动车乱停放),
``{code}`` (0506), ``{place}`` (the micro-grid), ``{camera}``, ``{since}`` and ``{deadline}``
(local times, 12月4日 09:58), ``{case_id}``, ``{url}`` (the case on the phone page), besides
``{phone}``, ``{text}`` (the whole notice, for gateways that take free text) and ``{receipt_url}``.
"""

from __future__ import annotations

from typing import Any

import httpx

from dispatcher.channels.base import Message, SendResult
from dispatcher.config import SmsConfig
from dispatcher.outbound import remote_outcome


def fill(template: Any, values: dict[str, str]) -> Any:
    """The template with each ``{name}`` of ``values`` replaced in every string."""
    if isinstance(template, str):
        for key, value in values.items():
            template = template.replace("{" + key + "}", value)
        return template
    if isinstance(template, dict):
        return {k: fill(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, values) for v in template]
    return template


class SmsGateway:
    def __init__(self, cfg: SmsConfig, http: httpx.Client, phone: str) -> None:
        self.cfg = cfg
        self.http = http
        self.phone = phone

    def send(self, message: Message) -> SendResult:
        text = f"{message.title}: {message.body} {message.url}"
        values = {**message.fields, "phone": self.phone, "text": text, "receipt_url": message.receipt_url,
                  "url": message.url}
        body = fill(self.cfg.body, values)
        response = self.http.post(self.cfg.url, json=body, headers=self.cfg.headers)
        if not response.is_success:
            return SendResult(False, remote_outcome(response, "SMS gateway"),
                              retry=response.status_code >= 500 or response.status_code == 429)
        return SendResult(True, f"SMS gateway accepted ({response.status_code})",
                          confirmed=self.cfg.confirm == "accepted")
