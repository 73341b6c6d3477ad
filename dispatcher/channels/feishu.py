"""Feishu (飞书) custom group robots, signed: ``timestamp`` (s) and ``sign`` =
base64(HMAC-SHA256(key="timestamp\\nsecret", message=b"")) in the JSON body; 100 messages a
minute and 5 a second per robot. ``code`` (or the older ``StatusCode``) 0 means posted."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

import httpx

from dispatcher.channels.base import Message, SendResult, json_answer, refusal

RATE_LIMITED = {9499, 11232}


def robot_signature(secret: str, timestamp_s: int) -> str:
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


class FeishuRobot:
    def __init__(self, url: str, secret: str | None, http: httpx.Client, mention_name: str | None) -> None:
        self.url = url
        self.secret = secret
        self.http = http
        self.mention_name = mention_name

    def send(self, message: Message) -> SendResult:
        text = message.text() + (f"\n@{self.mention_name}" if self.mention_name else "")
        body: dict[str, Any] = {"msg_type": "text", "content": {"text": text}}
        if self.secret:
            timestamp = int(time.time())
            body |= {"timestamp": str(timestamp), "sign": robot_signature(self.secret, timestamp)}
        data = json_answer(self.http.post(self.url, json=body))
        code = data.get("code", data.get("StatusCode"))
        return (refusal("Feishu robot", {"errmsg": data.get("msg")}, RATE_LIMITED, code)
                or SendResult(True, "Feishu robot posted to the group", confirmed=True))
