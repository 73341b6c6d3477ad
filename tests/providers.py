"""Local stand-ins for the messaging platforms the dispatcher talks to (no network here):
the WeCom and DingTalk app APIs, WeCom/DingTalk/Feishu group robots, an SMS gateway and a
webhook receiver. Each checks what the real platform checks, as its documentation says
(credentials, access tokens, robot signatures), answers in the platform's format, and
records what it received. Switches let a test make a platform misbehave."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from http_receiver import Answer, Receiver, Request, signed_by

CORP_ID, CORP_SECRET = "ww-test-corp", "wecom-secret"
DING_KEY, DING_SECRET = "ding-app-key", "ding-app-secret"
DING_ROBOT_SECRET = "SECdingrobot0123456789"
FEISHU_SECRET = "feishu-robot-secret"
HOOK_SECRET = "webhook-secret-0123456789"


@dataclass
class Received:
    platform: str
    to: str
    body: dict[str, Any]


@dataclass
class Providers:
    wecom_users: set[str] = field(default_factory=lambda: {"ZhangWei"})
    ding_users: set[str] = field(default_factory=lambda: {"zhangwei01"})
    sms_status: int = 200
    sms_receipts: bool = False  # call the receipt URL back, as a gateway's delivery report
    expire_wecom_token_once: bool = False
    received: list[Received] = field(default_factory=list)
    token_fetches: dict[str, int] = field(default_factory=lambda: {"wecom": 0, "dingtalk": 0})
    refused: list[str] = field(default_factory=list)  # what a platform rejected, and why

    def __post_init__(self) -> None:
        self._tokens: dict[str, str] = {}
        self._lock = threading.Lock()
        self.server = Receiver(respond=self._handle)
        self.url = self.server.url

    def close(self) -> None:
        self.server.close()

    def to(self, platform: str) -> list[Received]:
        return [r for r in self.received if r.platform == platform]

    # --- dispatching ---------------------------------------------------------------------

    def _handle(self, request: Request) -> Answer:
        parts = urlsplit(request.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        body = request.json()
        route = {
            "/wecom/cgi-bin/gettoken": self._wecom_token,
            "/wecom/cgi-bin/message/send": self._wecom_send,
            "/ding/gettoken": self._ding_token,
            "/ding/topapi/message/corpconversation/asyncsend_v2": self._ding_send,
            "/robot/wecom": self._wecom_robot,
            "/robot/dingtalk": self._ding_robot,
            "/robot/feishu": self._feishu_robot,
            "/sms": self._sms,
            "/hook": lambda q, b: self._hook(request, b),
        }.get(parts.path)
        status, answer = route(query, body) if route else (404, {"error": "no such path"})
        return status, answer, {}

    def _new_token(self, platform: str) -> str:
        with self._lock:
            self.token_fetches[platform] += 1
            token = f"{platform}-token-{self.token_fetches[platform]}"
            self._tokens[platform] = token
            return token

    def _refuse(self, why: str) -> None:
        self.refused.append(why)

    # --- WeCom ---------------------------------------------------------------------------

    def _wecom_token(self, q: dict, _b: dict) -> tuple[int, dict]:
        if (q.get("corpid"), q.get("corpsecret")) != (CORP_ID, CORP_SECRET):
            return 200, {"errcode": 40001, "errmsg": "invalid credential"}
        return 200, {"errcode": 0, "errmsg": "ok", "access_token": self._new_token("wecom"), "expires_in": 7200}

    def _wecom_send(self, q: dict, b: dict) -> tuple[int, dict]:
        if self.expire_wecom_token_once:
            self.expire_wecom_token_once = False
            self._tokens["wecom"] = "expired"
        if q.get("access_token") != self._tokens.get("wecom"):
            return 200, {"errcode": 42001, "errmsg": "access_token expired"}
        if b.get("touser") not in self.wecom_users:
            self._refuse(f"wecom: unknown user {b.get('touser')}")
            return 200, {"errcode": 81013, "errmsg": "user & party & tag all invalid"}
        card = b.get("textcard") or (b.get("news") or {}).get("articles", [{}])[0]
        assert b["msgtype"] in ("textcard", "news") and card["url"].startswith("http"), b  # WeCom's two card types
        self.received.append(Received("wecom_app", b["touser"], b))
        return 200, {"errcode": 0, "errmsg": "ok", "invaliduser": "", "msgid": f"m{len(self.received)}"}

    def _wecom_robot(self, q: dict, b: dict) -> tuple[int, dict]:
        if q.get("key") != "robot-key":
            return 200, {"errcode": 93000, "errmsg": "invalid webhook url"}
        mentioned = b["text"].get("mentioned_mobile_list", [])
        self.received.append(Received("wecom_robot", ",".join(mentioned), b))
        return 200, {"errcode": 0, "errmsg": "ok"}

    # --- DingTalk ------------------------------------------------------------------------

    def _ding_token(self, q: dict, _b: dict) -> tuple[int, dict]:
        if (q.get("appkey"), q.get("appsecret")) != (DING_KEY, DING_SECRET):
            return 200, {"errcode": 40089, "errmsg": "invalid appkey or appsecret"}
        return 200, {"errcode": 0, "errmsg": "ok", "access_token": self._new_token("dingtalk"), "expires_in": 7200}

    def _ding_send(self, q: dict, b: dict) -> tuple[int, dict]:
        if q.get("access_token") != self._tokens.get("dingtalk"):
            return 200, {"errcode": 88, "errmsg": "invalid access_token"}
        if b.get("userid_list") not in self.ding_users:
            self._refuse(f"dingtalk: unknown user {b.get('userid_list')}")
            return 200, {"errcode": 33012, "errmsg": "invalid userid"}
        self.received.append(Received("dingtalk_app", b["userid_list"], b))
        return 200, {"errcode": 0, "errmsg": "ok", "task_id": len(self.received), "request_id": "r"}

    def _ding_robot(self, q: dict, b: dict) -> tuple[int, dict]:
        # https://open.dingtalk.com: sign = urlencode(base64(hmac_sha256(secret, f"{timestamp}\n{secret}")))
        timestamp = int(q.get("timestamp", "0"))
        expected = base64.b64encode(hmac.new(DING_ROBOT_SECRET.encode(), f"{timestamp}\n{DING_ROBOT_SECRET}".encode(),
                                             hashlib.sha256).digest()).decode()
        if abs(time.time() * 1000 - timestamp) > 3600_000 or q.get("sign") != expected:
            self._refuse("dingtalk robot: bad signature")
            return 200, {"errcode": 310000, "errmsg": "sign not match"}
        self.received.append(Received("dingtalk_robot", ",".join(b["at"]["atMobiles"]), b))
        return 200, {"errcode": 0, "errmsg": "ok"}

    # --- Feishu --------------------------------------------------------------------------

    def _feishu_robot(self, _q: dict, b: dict) -> tuple[int, dict]:
        # https://open.feishu.cn: sign = base64(hmac_sha256(key=f"{timestamp}\n{secret}", msg=""))
        timestamp = int(b.get("timestamp", "0"))
        key = f"{timestamp}\n{FEISHU_SECRET}".encode()
        expected = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
        if abs(time.time() - timestamp) > 3600 or b.get("sign") != expected:
            self._refuse("feishu robot: bad signature")
            return 200, {"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time"}
        self.received.append(Received("feishu_robot", "", b))
        return 200, {"code": 0, "msg": "success", "data": {}}

    # --- SMS gateway and webhook ---------------------------------------------------------

    def _sms(self, _q: dict, b: dict) -> tuple[int, dict]:
        if self.sms_status >= 300:
            return self.sms_status, {"error": "gateway unavailable"}
        self.received.append(Received("sms", b["to"], b))
        if self.sms_receipts and b.get("callback"):
            threading.Timer(0.2, lambda: httpx.post(b["callback"] + "&status=delivered")).start()
        return 200, {"id": f"sms-{len(self.received)}"}

    def _hook(self, request: Request, b: dict) -> tuple[int, dict]:
        if not signed_by(request, HOOK_SECRET):
            self._refuse("webhook: bad signature")
            return 401, {"error": "bad signature"}
        self.received.append(Received("webhook", b["person_id"], b))
        return 200, {"ok": True}

    # --- the dispatcher config that points at these --------------------------------------

    def channels_config(self, **overrides: Any) -> dict[str, Any]:
        config: dict[str, Any] = {
            "wecom": {"corp_id": CORP_ID, "corp_secret": CORP_SECRET, "agent_id": 1000002,
                      "base_url": f"{self.url}/wecom"},
            "dingtalk": {"app_key": DING_KEY, "app_secret": DING_SECRET, "agent_id": 2000001,
                         "base_url": f"{self.url}/ding"},
            "robots": {
                "east-wecom": {"kind": "wecom", "url": f"{self.url}/robot/wecom?key=robot-key"},
                "east-ding": {"kind": "dingtalk", "url": f"{self.url}/robot/dingtalk?access_token=t",
                              "secret": DING_ROBOT_SECRET},
                "east-feishu": {"kind": "feishu", "url": f"{self.url}/robot/feishu", "secret": FEISHU_SECRET},
            },
            "sms": {"url": f"{self.url}/sms"},
            "webhooks": {"ops": {"url": f"{self.url}/hook", "secret": HOOK_SECRET}},
            "attempts": 2,
            "first_retry_s": 0.05,
            "timeout_s": 5,
        }
        config.update(overrides)
        return config
