"""DingTalk (钉钉): work notifications to one person, and signed group robots.

App: ``GET /gettoken?appkey&appsecret`` gives an access token (7,200 s); ``POST
/topapi/message/corpconversation/asyncsend_v2?access_token`` with ``agent_id``,
``userid_list`` and the message; ``errcode`` 0 and a ``task_id`` mean accepted. Robot: the
webhook URL plus ``timestamp`` (ms) and ``sign`` = base64(HMAC-SHA256(secret,
"timestamp\\nsecret")), URL-encoded; 20 messages a minute per robot (errcode 130101 beyond).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

import httpx

from dispatcher.channels.base import (
    Message,
    SendResult,
    TokenApp,
    fetch_access_token,
    json_answer,
    refusal,
)
from dispatcher.config import DingTalkAppConfig

TOKEN_INVALID = {40014, 42001, 88}
RATE_LIMITED = {130101, 90018, 90002}


def robot_signature(secret: str, timestamp_ms: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def fetch_token(cfg: DingTalkAppConfig, http: httpx.Client) -> tuple[str, float]:
    return fetch_access_token(http, f"{cfg.base_url}/gettoken",
                              {"appkey": cfg.app_key, "appsecret": cfg.app_secret}, "DingTalk")


class DingTalkApp(TokenApp):
    platform = "DingTalk"
    token_invalid = frozenset(TOKEN_INVALID)
    rate_limited = frozenset(RATE_LIMITED)

    def send(self, message: Message) -> SendResult:
        body = {"agent_id": self.cfg.agent_id, "userid_list": self.user_id,
                "msg": {"msgtype": "link", "link": {"title": message.title, "text": message.body,
                                                    "messageUrl": message.url,
                                                    "picUrl": message.image_url or "@lALOACZwe2Rk"}}}
        data = self._post(f"{self.cfg.base_url}/topapi/message/corpconversation/asyncsend_v2", body)
        if isinstance(data, SendResult):
            return data
        return SendResult(True, f"DingTalk task {data.get('task_id')}", confirmed=True)


class DingTalkRobot:
    def __init__(self, url: str, secret: str | None, http: httpx.Client, mention_mobile: str | None) -> None:
        self.url = url
        self.secret = secret
        self.http = http
        self.mention_mobile = mention_mobile

    def send(self, message: Message) -> SendResult:
        params: dict[str, Any] = {}
        if self.secret:
            timestamp = int(time.time() * 1000)
            params = {"timestamp": timestamp, "sign": robot_signature(self.secret, timestamp)}
        content = message.text() + (f"\n@{self.mention_mobile}" if self.mention_mobile else "")
        body = {"msgtype": "text", "text": {"content": content},
                "at": {"atMobiles": [self.mention_mobile] if self.mention_mobile else [], "isAtAll": False}}
        data = json_answer(self.http.post(self.url, params=params, json=body))
        return (refusal("DingTalk robot", data, RATE_LIMITED)
                or SendResult(True, "DingTalk robot posted to the group", confirmed=True))
