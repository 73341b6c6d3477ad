"""SMS through an HTTP gateway of the town's choosing: a JSON POST built from a template."""

from __future__ import annotations

from typing import Any

import httpx

from dispatcher.channels.base import Message, SendResult
from dispatcher.config import SmsConfig
from dispatcher.outbound import remote_outcome


def fill(template: Any, values: dict[str, str]) -> Any:
    """The template with ``{phone}``, ``{text}``, ``{receipt_url}`` replaced in every string."""
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
        body = fill(self.cfg.body, {"phone": self.phone, "text": text, "receipt_url": message.receipt_url})
        response = self.http.post(self.cfg.url, json=body, headers=self.cfg.headers)
        if not response.is_success:
            return SendResult(False, remote_outcome(response, "SMS gateway"),
                              retry=response.status_code >= 500 or response.status_code == 429)
        return SendResult(True, f"SMS gateway accepted ({response.status_code})",
                          confirmed=self.cfg.confirm == "accepted")
