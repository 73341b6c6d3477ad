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
    AccessTokenCache,
    Message,
    SendResult,
    TokenRefused,
    fetch_access_token,
    json_answer,
    platform_error,
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


class DingTalkApp:
    def __init__(self, cfg: DingTalkAppConfig, http: httpx.Client, user_id: str, tokens: AccessTokenCache) -> None:
        self.cfg = cfg
        self.http = http
        self.user_id = user_id
        self.tokens = tokens  # one per app, shared by all its recipients

    def send(self, message: Message) -> SendResult:
        body = {"agent_id": self.cfg.agent_id, "userid_list": self.user_id,
                "msg": {"msgtype": "link", "link": {"title": message.title, "text": message.body,
                                                    "messageUrl": message.url, "picUrl": "@lALOACZwe2Rk"}}}
        url = f"{self.cfg.base_url}/topapi/message/corpconversation/asyncsend_v2"
        try:
            data = self.tokens.post(self.http, url, body, TOKEN_INVALID)
        except TokenRefused as exc:
            return SendResult(False, str(exc), retry=False)
        code = data.get("errcode")
        if code != 0:
            return SendResult(False, platform_error("DingTalk", data),
                              retry=code in RATE_LIMITED or code == -1)
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
        code = data.get("errcode")
        if code != 0:
            return SendResult(False, platform_error("DingTalk robot", data),
                              retry=code in RATE_LIMITED)
        return SendResult(True, "DingTalk robot posted to the group", confirmed=True)
