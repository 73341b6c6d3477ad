"""What every phone channel shares: the message, the outcome of one send, rate limits and
cached access tokens."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx


@dataclass(frozen=True)
class Message:
    """One notice of a case, in the town's language."""

    case_id: int
    title: str  # 非机动车乱停放（0506）
    body: str  # where, since when, until when
    url: str  # the case on the worker page
    receipt_url: str  # a signed URL that marks this notification delivered when called
    image_url: str | None = None  # a signed link to the snapshot, for cards that show a picture
    open_label: str = "Open"  # the card's button: 查看详情
    fields: dict[str, str] = field(default_factory=dict)  # SMS template variables (kind, place, deadline, ...)

    def text(self) -> str:
        return f"{self.title}\n{self.body}\n{self.url}"


@dataclass(frozen=True)
class SendResult:
    ok: bool  # the platform took the message for this person
    detail: str
    confirmed: bool = False  # taking it counts as delivery (not for Web Push, nor SMS with receipts)
    retry: bool = True  # worth trying this channel again (not for a bad address or bad credentials)
    gone: bool = False  # the address no longer exists (a Web Push subscription): forget it


class Channel(Protocol):
    def send(self, message: Message) -> SendResult: ...


class RateLimiter:
    """A token bucket per key (a robot, an app): ``per_minute`` sends, refilled evenly."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill time)
        self._lock = threading.Lock()

    def wait_time(self, key: str, per_minute: int) -> float:
        """Take a token now (returns 0) or say how long until one is free (takes nothing)."""
        at = self.clock()
        rate = per_minute / 60.0
        with self._lock:
            tokens, last = self._buckets.get(key, (float(per_minute), at))
            tokens = min(float(per_minute), tokens + (at - last) * rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, at)
                return 0.0
            self._buckets[key] = (tokens, at)
            return (1.0 - tokens) / rate

    def acquire(self, key: str, per_minute: int, max_wait_s: float) -> bool:
        """Wait for a token up to ``max_wait_s``; False when the channel stays saturated."""
        deadline = self.clock() + max_wait_s
        while True:
            wait = self.wait_time(key, per_minute)
            if wait == 0.0:
                return True
            if self.clock() + wait > deadline:
                return False
            time.sleep(wait)


log = logging.getLogger(__name__)


def platform_error(platform: str, data: dict[str, Any]) -> str:
    """What users may read of a platform's refusal: its error code. The platform's own words
    (``errmsg``) go to the log only, never back to users (dispatcher/outbound.py)."""
    code = data.get("errcode")
    shown = code if isinstance(code, int) else "?"
    log.warning("%s refused a message: errcode %r, %.200s", platform, code, data.get("errmsg"))
    return f"{platform} errcode {shown}"


class ChannelError(Exception):
    """A platform refused the credentials or answered something unreadable."""


class TokenRefused(ChannelError):
    """An app's access token could not be had: wrong credentials, or no readable answer."""


def json_answer(response: httpx.Response) -> dict[str, Any]:
    """The platform's JSON object answer (WeCom, DingTalk and Feishu all answer so)."""
    try:
        data = response.json()
    except ValueError:
        raise ChannelError(f"HTTP {response.status_code}, not JSON") from None
    if not isinstance(data, dict):
        raise ChannelError("answer is not a JSON object")
    return data


def fetch_access_token(http: httpx.Client, url: str, params: dict[str, str], platform: str) -> tuple[str, float]:
    """An app's access token and its lifetime, from WeCom's or DingTalk's ``gettoken``."""
    data = json_answer(http.get(url, params=params))
    if data.get("errcode") != 0 or not data.get("access_token"):
        raise ChannelError(f"gettoken: {platform_error(platform, data)}")
    return str(data["access_token"]), float(data.get("expires_in", 7200))


class AccessTokenCache:
    """An app's access token (WeCom, DingTalk: valid 7,200 s), fetched once and reused until
    shortly before it expires or the platform says it is no longer valid."""

    def __init__(self, fetch: Callable[[], tuple[str, float]], clock: Callable[[], float] = time.monotonic) -> None:
        self.fetch = fetch  # -> (token, lifetime in seconds)
        self.clock = clock
        self._token: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()

    def get(self) -> str:
        with self._lock:
            if self._token is None or self.clock() >= self._expires:
                try:
                    token, lifetime = self.fetch()
                except ChannelError as exc:
                    raise TokenRefused(str(exc)) from None
                self._token, self._expires = token, self.clock() + max(lifetime - 300.0, lifetime / 2)
            return self._token

    def invalidate(self) -> None:
        with self._lock:
            self._token = None

    def post(self, http: httpx.Client, url: str, body: dict[str, Any], token_invalid: set[int]) -> dict[str, Any]:
        """POST ``body`` with ``?access_token=``; when the platform answers that the token is
        invalid or expired (an ``errcode`` of ``token_invalid``), fetch a new one and try once
        more. Returns the platform's answer; raises TokenRefused when no token can be had."""
        data: dict[str, Any] = {}
        for attempt in (1, 2):
            data = json_answer(http.post(url, params={"access_token": self.get()}, json=body))
            if data.get("errcode") in token_invalid and attempt == 1:
                self.invalidate()
                continue
            break
        return data


def refusal(platform: str, data: dict[str, Any], rate_limited: set[int], code: Any = None,
            busy_retries: bool = False) -> SendResult | None:
    """The failed SendResult of a platform's answer whose ``errcode`` (or ``code``) is not 0,
    to be retried when the platform is rate limiting (or, with ``busy_retries``, busy: -1);
    None when it was accepted."""
    code = data.get("errcode") if code is None else code
    if code == 0:
        return None
    retry = code in rate_limited or (busy_retries and code == -1)
    return SendResult(False, platform_error(platform, {**data, "errcode": code}), retry=retry)


class TokenApp:
    """A platform's work-notice app that sends to one person with an access token (WeCom,
    DingTalk): the token shared by all the app's recipients, renewed once when refused."""

    platform = ""
    token_invalid: frozenset[int] = frozenset()
    rate_limited: frozenset[int] = frozenset()

    def __init__(self, cfg: Any, http: httpx.Client, user_id: str, tokens: AccessTokenCache) -> None:
        self.cfg = cfg
        self.http = http
        self.user_id = user_id
        self.tokens = tokens  # one per app, shared by all its recipients

    def _post(self, url: str, body: dict[str, Any]) -> dict[str, Any] | SendResult:
        """The platform's answer when it accepted ``body``, else the failed SendResult."""
        try:
            data = self.tokens.post(self.http, url, body, set(self.token_invalid))
        except TokenRefused as exc:
            return SendResult(False, str(exc), retry=False)
        return refusal(self.platform, data, set(self.rate_limited), busy_retries=True) or data
