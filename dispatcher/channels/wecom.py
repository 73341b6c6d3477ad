"""WeCom (企业微信): app messages to one person, and group robots.

App: ``GET /cgi-bin/gettoken?corpid&corpsecret`` gives an access token (7,200 s);
``POST /cgi-bin/message/send?access_token`` with ``touser``, ``agentid`` and a text card.
``errcode`` 0 means sent; ``invaliduser`` lists ids WeCom does not know. Robot: a POST to
the robot's webhook URL; a mention by mobile number; 20 messages a minute per robot.
"""

from __future__ import annotations

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
from dispatcher.config import WeComAppConfig

TOKEN_INVALID = {40014, 42001}  # invalid / expired access token: fetch a new one
RATE_LIMITED = {45009, 45033}


def fetch_token(cfg: WeComAppConfig, http: httpx.Client) -> tuple[str, float]:
    return fetch_access_token(http, f"{cfg.base_url}/cgi-bin/gettoken",
                              {"corpid": cfg.corp_id, "corpsecret": cfg.corp_secret}, "WeCom")


class WeComApp(TokenApp):
    platform = "WeCom"
    token_invalid = frozenset(TOKEN_INVALID)
    rate_limited = frozenset(RATE_LIMITED)

    def send(self, message: Message) -> SendResult:
        if message.image_url:  # a card with the snapshot
            body = {"touser": self.user_id, "msgtype": "news", "agentid": self.cfg.agent_id,
                    "news": {"articles": [{"title": message.title, "description": message.body, "url": message.url,
                                           "picurl": message.image_url}]}}
        else:
            body = {"touser": self.user_id, "msgtype": "textcard", "agentid": self.cfg.agent_id,
                    "textcard": {"title": message.title, "description": message.body, "url": message.url,
                                 "btntxt": message.open_label}}
        data = self._post(f"{self.cfg.base_url}/cgi-bin/message/send", body)
        if isinstance(data, SendResult):
            return data
        if self.user_id in str(data.get("invaliduser", "")).split("|"):
            return SendResult(False, f"WeCom does not know user {self.user_id}", retry=False)
        return SendResult(True, f"WeCom msgid {data.get('msgid', '')}", confirmed=True)


class WeComRobot:
    def __init__(self, url: str, http: httpx.Client, mention_mobile: str | None) -> None:
        self.url = url
        self.http = http
        self.mention_mobile = mention_mobile

    def send(self, message: Message) -> SendResult:
        text: dict[str, Any] = {"content": message.text()}
        if self.mention_mobile:
            text["mentioned_mobile_list"] = [self.mention_mobile]
        data = json_answer(self.http.post(self.url, json={"msgtype": "text", "text": text}))
        return refusal("WeCom robot", data, RATE_LIMITED) or SendResult(True, "WeCom robot posted to the group",
                                                                        confirmed=True)
