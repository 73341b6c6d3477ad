"""Channels to the phone besides the in-app inbox: WeCom and DingTalk app messages, group
robots (WeCom, DingTalk, Feishu), SMS through an HTTP gateway and a generic webhook. Web
Push lives in ``dispatcher.webpush``; ``dispatcher.notify`` runs each person's chain."""

from __future__ import annotations

import httpx

from dispatcher.channels.base import AccessTokenCache, Channel, ChannelError, Message, RateLimiter, SendResult
from dispatcher.channels.dingtalk import DingTalkApp, DingTalkRobot
from dispatcher.channels.dingtalk import fetch_token as dingtalk_token
from dispatcher.channels.feishu import FeishuRobot
from dispatcher.channels.sms import SmsGateway
from dispatcher.channels.webhook import WebhookChannel
from dispatcher.channels.wecom import WeComApp, WeComRobot
from dispatcher.channels.wecom import fetch_token as wecom_token
from dispatcher.config import ChannelsConfig
from dispatcher.grid import ChannelRef, Grid, Person
from dispatcher.outbound import UrlRefused

__all__ = ["ChannelSet", "Message", "SendResult", "channel_problems"]


def channel_problems(cfg: ChannelsConfig, grid: Grid) -> list[str]:
    """Channels the grid file names that this config cannot serve."""
    found = []
    for person in grid.people:
        for i, ref in enumerate(person.channels):
            where = f"people[{person.id}].channels[{i}] ({ref.type})"
            if ref.type == "wecom_app" and cfg.wecom is None:
                found.append(f"{where}: the dispatcher config has no channels.wecom")
            elif ref.type == "dingtalk_app" and cfg.dingtalk is None:
                found.append(f"{where}: the dispatcher config has no channels.dingtalk")
            elif ref.type == "sms" and cfg.sms is None:
                found.append(f"{where}: the dispatcher config has no channels.sms")
            elif ref.type == "robot" and ref.name not in cfg.robots:
                found.append(f"{where}: no robot {ref.name!r} in channels.robots")
            elif ref.type == "webhook" and ref.name not in cfg.webhooks:
                found.append(f"{where}: no webhook {ref.name!r} in channels.webhooks")
    return found


class ChannelSet:
    """Builds and sends through the channel a person's ``ChannelRef`` names, sharing one HTTP
    client, one access-token cache per app and one rate limiter per destination."""

    def __init__(self, cfg: ChannelsConfig, http: httpx.Client, limiter: RateLimiter | None = None) -> None:
        """``http``: a client that checks every destination (``dispatcher.outbound.GuardedClient``);
        ``limiter``: the buckets, shared by every dispatcher (``dispatcher.sharedstate``) or this
        process's own."""
        self.cfg = cfg
        self.http = http
        self.limiter = limiter or RateLimiter()
        self.wecom_tokens = AccessTokenCache(lambda: wecom_token(cfg.wecom, self.http)) if cfg.wecom else None
        self.dingtalk_tokens = (AccessTokenCache(lambda: dingtalk_token(cfg.dingtalk, self.http))
                                if cfg.dingtalk else None)

    def _build(self, ref: ChannelRef, person: Person) -> tuple[Channel, str, int]:
        """The channel, its rate-limit key and its messages per minute."""
        cfg = self.cfg
        if ref.type == "wecom_app" and cfg.wecom and self.wecom_tokens:
            return (WeComApp(cfg.wecom, self.http, ref.user_id or "", self.wecom_tokens), "wecom_app",
                    cfg.wecom.per_minute)
        if ref.type == "dingtalk_app" and cfg.dingtalk and self.dingtalk_tokens:
            return (DingTalkApp(cfg.dingtalk, self.http, ref.user_id or "", self.dingtalk_tokens), "dingtalk_app",
                    cfg.dingtalk.per_minute)
        if ref.type == "robot" and ref.name in cfg.robots:
            robot = cfg.robots[ref.name]
            phone = ref.phone or person.phone
            channel: Channel
            if robot.kind == "wecom":
                channel = WeComRobot(robot.url, self.http, phone)
            elif robot.kind == "dingtalk":
                channel = DingTalkRobot(robot.url, robot.secret, self.http, phone)
            else:
                channel = FeishuRobot(robot.url, robot.secret, self.http, person.name)
            return channel, f"robot:{ref.name}", robot.rate()
        if ref.type == "sms" and cfg.sms:
            return SmsGateway(cfg.sms, self.http, ref.phone or person.phone or ""), "sms", cfg.sms.per_minute
        if ref.type == "webhook" and ref.name in cfg.webhooks:
            hook = cfg.webhooks[ref.name]
            return WebhookChannel(hook, self.http, person.id), f"webhook:{ref.name}", hook.per_minute
        raise ChannelError(f"{ref.type} channel is not configured")

    def send(self, ref: ChannelRef, person: Person, message: Message) -> SendResult:
        try:
            channel, key, per_minute = self._build(ref, person)
        except ChannelError as exc:
            return SendResult(False, str(exc), retry=False)
        if not self.limiter.acquire(key, per_minute, self.cfg.rate_wait_s):
            return SendResult(False, f"{key} is at its limit of {per_minute} messages a minute")
        try:
            return channel.send(message)
        except ChannelError as exc:
            return SendResult(False, str(exc))
        except UrlRefused as exc:
            return SendResult(False, f"destination refused: {exc}", retry=False)
        except httpx.HTTPError as exc:
            return SendResult(False, f"{type(exc).__name__}: {exc}"[:300])

    def close(self) -> None:
        self.http.close()
