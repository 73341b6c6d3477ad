"""A generic webhook: the message as signed JSON (the city webhook's HMAC scheme)."""

from __future__ import annotations

import json
import time

import httpx

from dispatcher.channels.base import Message, SendResult
from dispatcher.config import WebhookChannelConfig
from dispatcher.webhook import sign


class WebhookChannel:
    def __init__(self, cfg: WebhookChannelConfig, http: httpx.Client, person_id: str) -> None:
        self.cfg = cfg
        self.http = http
        self.person_id = person_id

    def send(self, message: Message) -> SendResult:
        body = json.dumps({"person_id": self.person_id, "case_id": message.case_id, "title": message.title,
                           "body": message.body, "url": message.url, "receipt_url": message.receipt_url}).encode()
        timestamp = str(int(time.time()))
        response = self.http.post(self.cfg.url, content=body, headers={
            "content-type": "application/json", "x-gridpatrol-timestamp": timestamp,
            "x-gridpatrol-signature": sign(self.cfg.secret, timestamp, body)})
        if not response.is_success:
            return SendResult(False, f"webhook answered {response.status_code}",
                              retry=response.status_code >= 500 or response.status_code == 429)
        return SendResult(True, f"webhook answered {response.status_code}", confirmed=True)
