"""The dispatcher's config: validated pydantic models loaded from YAML."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, IPvAnyNetwork, field_validator, model_validator

from contract import ViolationKind
from contract.configfile import TimeZoneName, load_config
from contract.mqtt import MqttConfig
from dispatcher.outbound import DEFAULT_PUSH_HOSTS, OutboundGuard, UrlRefused
from dispatcher.workclock import WorkClock
from i18n import DEFAULT_LOCALE, Locale


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# Request bodies, read no further than this (HTTP 413): JSON routes take small bodies, a few take more.
JSON_BODY_BYTES = 64 * 1024
GRID_BODY_BYTES = 16 * 1024 * 1024  # a whole grid document, its areas' GeoJSON included
EVIDENCE_BODY_CEILING = 32 * 1024 * 1024  # the evidence route's cap; max_evidence_bytes is the town's own


TILE_TEMPLATE = r"^https?://"
TIANDITU = ("https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER={layer}"
            "&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}")
AMAP = "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}"


class MapSettings(BaseModel):
    """What the console's map draws on: tile templates, their datum, the credit line."""

    tiles: str | None
    labels: str | None
    subdomains: str
    crs: Literal["wgs84", "gcj02"]
    attribution: str


class HttpConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    public_url: str | None = Field(
        default=None, description="How phones reach this server; defaults to http://host:port"
    )
    map_preset: Literal["tianditu", "amap"] | None = Field(
        default=None, description="A Chinese base map: tianditu (天地图, CGCS2000 ≈ WGS-84, needs map_key) or amap "
        "(高德, GCJ-02: grids and cameras are shifted for display); unset: map_tiles, or a plain background",
    )
    map_key: str | None = Field(default=None, max_length=100, pattern=r"^[A-Za-z0-9]+$",
                                description="The town's Tianditu key (tk)")
    map_tiles: str | None = Field(
        default=None, pattern=TILE_TEMPLATE, max_length=500,
        description="Tile URL template for the console's map, e.g. https://tiles.example/{z}/{x}/{y}.png; "
        "unset (and no preset): the micro-grids on a plain background (works offline)",
    )
    map_labels: str | None = Field(default=None, pattern=TILE_TEMPLATE, max_length=500,
                                   description="A second tile layer drawn over the first: street names")
    map_subdomains: str = Field(default="abc", pattern=r"^[A-Za-z0-9]{1,10}$",
                                description="What {s} in the templates stands for, one character each")
    map_crs: Literal["wgs84", "gcj02"] = Field(
        default="wgs84", description="The tiles' datum: gcj02 for AMap, Tencent and other mainland tiles (grid "
        "files stay WGS-84/CGCS2000 and are converted for display)",
    )
    map_attribution: str = Field(default="", max_length=300, description="Credit line the tile server asks for")
    @field_validator("map_tiles", "map_labels")
    @classmethod
    def _tile_template(cls, value: str | None) -> str | None:
        if value is not None and not all(part in value for part in ("{z}", "{x}", "{y}")):
            raise ValueError("a tile URL template needs {z}, {x} and {y} (in any order)")
        return value

    @model_validator(mode="after")
    def _map_needs(self) -> HttpConfig:
        if self.map_preset == "tianditu" and not self.map_key:
            raise ValueError("map_preset tianditu needs map_key (the town's Tianditu key)")
        return self

    def map(self) -> MapSettings:
        """The map's settings, a preset filled in."""
        if self.map_preset == "tianditu":
            return MapSettings(tiles=TIANDITU.format(layer="vec", key=self.map_key, s="{s}", x="{x}", y="{y}", z="{z}"),
                               labels=TIANDITU.format(layer="cva", key=self.map_key, s="{s}", x="{x}", y="{y}",
                                                      z="{z}"),
                               subdomains="01234567", crs="wgs84", attribution=self.map_attribution or "天地图")
        if self.map_preset == "amap":
            return MapSettings(tiles=AMAP, labels=None, subdomains="1234", crs="gcj02",
                               attribution=self.map_attribution or "高德地图")
        return MapSettings(tiles=self.map_tiles, labels=self.map_labels, subdomains=self.map_subdomains,
                           crs=self.map_crs, attribution=self.map_attribution)

    trusted_proxies: str = Field(
        default="127.0.0.1", max_length=1000,
        description="Addresses whose X-Forwarded-For/-Proto are believed (Uvicorn's forwarded_allow_ips: comma-"
        "separated addresses or networks, '*' for any): the town's reverse proxy, so that login limits count the "
        "real client's address, not the proxy's",
    )


class IngestConfig(_Strict):
    client_id: str = "gridpatrol-dispatcher"
    shared_group: str | None = Field(
        default=None, description="MQTT v5 shared subscription group, for several dispatchers"
    )
    session_expiry_s: int = Field(default=86400, ge=0, description="Broker keeps our queue this long")
    receive_maximum: int = Field(default=2000, ge=1, le=65535, description="Unacknowledged messages in flight")
    batch_size: int = Field(default=500, ge=1, le=10000, description="Messages stored per transaction")
    batch_wait_s: float = Field(default=0.05, ge=0.0, le=5.0, description="Longest wait to fill a batch")
    max_event_age_days: float = Field(
        default=14.0, gt=0, le=3650, description="Events observed longer ago are quarantined (a box's outbox that "
        "held them over a long outage: look at them by hand)",
    )
    max_clock_skew_s: float = Field(
        default=300.0, ge=0, le=86400, description="Events observed further ahead of this clock are quarantined",
    )


class WebPushConfig(_Strict):
    subject: str = Field(default="mailto:ops@gridpatrol.invalid", description="VAPID contact (mailto: or https:)")
    ttl_s: int = Field(default=3600, ge=0)


class KindPolicy(_Strict):
    """Deadlines of one violation kind, in minutes of its clock."""

    accept_within_min: float = Field(default=30.0, gt=0, description="Escalate one level if not accepted by then")
    handle_within_min: float = Field(default=240.0, gt=0, description="Escalate to the line department after")
    clock: Literal["working", "plain"] = Field(
        default="working", description="working: working hours, weekends and holidays off; plain: urgent kinds"
    )


class WorkingHours(_Strict):
    start: time = time(8, 30)
    end: time = time(17, 30)
    timezone: TimeZoneName | None = Field(default=None, description="Unset: the town's timezone")


class EscalationConfig(_Strict):
    policies: dict[ViolationKind, KindPolicy] = Field(
        default_factory=lambda: {kind: KindPolicy() for kind in ViolationKind}
    )
    working_hours: WorkingHours = Field(default_factory=WorkingHours)
    poll_s: float = Field(default=5.0, gt=0, le=300, description="How often due timers are looked for")
    instance_id: str | None = Field(default=None, description="Names this dispatcher in the audit trail")

    def policy(self, kind: str) -> KindPolicy:
        return self.policies.get(ViolationKind(kind), KindPolicy())

    def deadline(self, kind: str, start: datetime, minutes: float) -> datetime:
        """``minutes`` after ``start`` on the kind's clock."""
        if self.policy(kind).clock == "plain":
            return start + timedelta(minutes=minutes)
        hours = self.working_hours
        return WorkClock(hours.start, hours.end, hours.timezone or "Asia/Shanghai").add(start, minutes)

    def accept_due(self, kind: str, start: datetime) -> datetime:
        return self.deadline(kind, start, self.policy(kind).accept_within_min)

    def handle_due(self, kind: str, start: datetime) -> datetime:
        return self.deadline(kind, start, self.policy(kind).handle_within_min)


class ShopNoticeConfig(_Strict):
    """Shop owners told first: a shop front (its zone's ``shop_id``) whose owner has a phone in
    the grid file gets a rectification notice (整改通知) by SMS before any worker is sent."""

    grace_min: float = Field(default=15.0, ge=0, le=24 * 60,
                             description="How long the owner has to put it right; 0: dispatch at once")
    repeat_skips_grace: bool = Field(default=True, description="A repeat offence at the shop is dispatched at once")


class DedupConfig(_Strict):
    spot_iou: float = Field(default=0.3, gt=0, lt=1, description="Boxes this alike are the same spot")
    repeat_window_days: float = Field(default=30.0, ge=0, description="A new case here within this links")


def _default_codes() -> dict[ViolationKind, str]:
    # Street-order classes of the urban-management standard: 0504 goods put outside the shop
    # (cross-door trading), 0506 non-motor vehicles parked at random.
    return {ViolationKind.cross_door_trading: "0504", ViolationKind.parked_bike: "0506"}


class CityWebhookConfig(_Strict):
    """The city platform's webhook: each case opened, closed or voided, signed with HMAC-SHA256."""

    url: str = Field(pattern=r"^https?://")
    secret: str = Field(min_length=16, description="Shared secret for the X-GridPatrol-Signature header")
    timeout_s: float = Field(default=10.0, gt=0)
    attempts: int = Field(default=8, ge=1, description="Then the message is marked failed (and kept)")
    poll_s: float = Field(default=2.0, gt=0)


class WeComAppConfig(_Strict):
    """The town's WeCom (企业微信) self-built app: messages to one person by their WeCom user id."""

    corp_id: str = Field(min_length=1)
    corp_secret: str = Field(min_length=1)
    agent_id: int
    base_url: str = Field(default="https://qyapi.weixin.qq.com", pattern=r"^https?://")
    per_minute: int = Field(default=600, ge=1, description="Our own ceiling on messages per minute")


class DingTalkAppConfig(_Strict):
    """The town's DingTalk (钉钉) app: work notifications to one person by their DingTalk user id."""

    app_key: str = Field(min_length=1)
    app_secret: str = Field(min_length=1)
    agent_id: int
    base_url: str = Field(default="https://oapi.dingtalk.com", pattern=r"^https?://")
    per_minute: int = Field(default=600, ge=1)


# The platforms' documented limits for custom group robots, per robot.
ROBOT_PER_MINUTE = {"wecom": 20, "dingtalk": 20, "feishu": 100}


class RobotConfig(_Strict):
    """A group robot: its webhook URL (with its key or access token) and, for DingTalk's and
    Feishu's signed robots, the signing secret."""

    kind: Literal["wecom", "dingtalk", "feishu"]
    url: str = Field(pattern=r"^https?://")
    secret: str | None = Field(default=None, min_length=1)
    per_minute: int | None = Field(default=None, ge=1, description="Default: the platform's limit (20, 20, 100)")

    def rate(self) -> int:
        return self.per_minute or ROBOT_PER_MINUTE[self.kind]


class SmsConfig(_Strict):
    """An HTTP SMS gateway. ``body`` is sent as JSON after replacing ``{phone}``, ``{text}``
    and ``{receipt_url}`` in its string values; any 2xx answer means accepted."""

    url: str = Field(pattern=r"^https?://")
    headers: dict[str, str] = Field(default_factory=dict)
    body: dict[str, Any] = Field(default_factory=lambda: {"to": "{phone}", "text": "{text}",
                                                          "callback": "{receipt_url}"})
    confirm: Literal["accepted", "receipt"] = Field(
        default="accepted", description="receipt: delivered only when the gateway calls the receipt URL back"
    )
    per_minute: int = Field(default=60, ge=1)


class WebhookChannelConfig(_Strict):
    """A generic webhook: a signed JSON POST (the city webhook's signature scheme)."""

    url: str = Field(pattern=r"^https?://")
    secret: str = Field(min_length=16)
    per_minute: int = Field(default=600, ge=1)


class ChannelsConfig(_Strict):
    """How the dispatcher reaches phones besides Web Push. People pick theirs in the grid file."""

    wecom: WeComAppConfig | None = None
    dingtalk: DingTalkAppConfig | None = None
    robots: dict[str, RobotConfig] = Field(default_factory=dict)
    sms: SmsConfig | None = None
    webhooks: dict[str, WebhookChannelConfig] = Field(default_factory=dict)
    attempts: int = Field(default=3, ge=1, le=10, description="Tries per channel before the next one")
    first_retry_s: float = Field(default=2.0, ge=0, description="Then doubling")
    timeout_s: float = Field(default=10.0, gt=0)
    rate_wait_s: float = Field(default=30.0, ge=0, description="Longest wait for a rate-limited channel")
    confirm_wait_s: float = Field(
        default=600.0, ge=0,
        description="A message sent but not confirmed (Web Push, SMS with receipts) waits this long for its "
        "receipt or the person opening the case, then the next channel is tried (at the chain's end: escalate)",
    )


class OutboundConfig(_Strict):
    """Where the dispatcher may send requests (Web Push, channels, the city webhook): public
    https addresses only, unless a network is allowed here (dispatcher/outbound.py)."""

    allow_networks: list[IPvAnyNetwork] = Field(
        default_factory=list, max_length=64,
        description="Internal networks the town trusts as destinations (e.g. 10.20.0.0/16 for an SMS gateway on its "
        "own network); plain http is allowed only into these",
    )
    push_hosts: list[str] = Field(
        default_factory=lambda: list(DEFAULT_PUSH_HOSTS), max_length=64,
        description="Push services a phone's Web Push endpoint may be on; '.example.com' also allows names below it",
    )

    def guard(self) -> OutboundGuard:
        return OutboundGuard(self.allow_networks, self.push_hosts)


class AuthConfig(_Strict):
    session_ttl_h: float = Field(default=720.0, gt=0, description="How long a login lasts (phones stay logged in)")
    login_max_failures: int = Field(default=5, ge=1, le=1000,
                                    description="Failed logins for one person from one address ...")
    login_address_max_failures: int = Field(default=50, ge=1, le=100000,
                                            description="... and for all people from one address ...")
    login_window_s: float = Field(default=300.0, gt=0, le=86400, description="... in this sliding window, then 429")
    link_ttl_s: int = Field(default=3600, ge=60, description="Signed evidence links expire after this")
    rating_link_ttl_h: float = Field(default=72.0, gt=0, le=24 * 90,
                                     description="A resident's rating link works this long (and once)")
    link_secret: str | None = Field(
        default=None, min_length=32, description="Signs evidence and receipt links; unset: the one the first "
        "dispatcher made, kept in the database all dispatchers share"
    )


class S3StoreConfig(_Strict):
    """Evidence in an S3-compatible bucket (MinIO, SeaweedFS, Alibaba OSS, Huawei OBS), shared
    by every dispatcher of the town. Boxes still upload through a dispatcher, which checks each
    image before the bucket keeps it; the bucket's lifecycle rule expires old evidence."""

    endpoint_url: str = Field(pattern=r"^https?://[^\s/]+", max_length=300,
                              description="The store's S3 endpoint, e.g. http://minio.town.internal:9000")
    bucket: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    region: str = Field(default="us-east-1", pattern=r"^[a-z0-9-]{1,32}$")
    access_key_id: str = Field(min_length=1, max_length=128)
    secret_access_key: str = Field(min_length=1, max_length=256)
    prefix: str = Field(default="evidence/", pattern=r"^([A-Za-z0-9_.-]+/)*$", max_length=100,
                        description="Where in the bucket the images go (a lifecycle rule can match it)")
    timeout_s: float = Field(default=10.0, gt=0, le=120)


class DispatcherConfig(_Strict):
    locale: Locale = Field(default=DEFAULT_LOCALE, description="The town's language: notifications, CSVs, the "
                           "pages' default (a person may switch on the page); zh-CN or en")
    timezone: TimeZoneName = Field(default="Asia/Shanghai", description="The town's zone: every time people see, "
                                   "the assessment's months and the working-hours clock (unless set there)")
    database_url: str = "sqlite:///var/dispatcher/gridpatrol.sqlite"
    data_dir: Path = Path("var/dispatcher")
    grid_file: Path = Path("configs/grid.yaml")
    edge_config: Path | None = Field(
        default=None, description="The town's edge config (shared by its boxes) whose zones the console's zone "
        "editor edits; unset: no zone editing",
    )
    mqtt: MqttConfig = Field(default_factory=lambda: MqttConfig(client_id=None))
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    http: HttpConfig = Field(default_factory=HttpConfig)
    webpush: WebPushConfig = Field(default_factory=WebPushConfig)
    escalation: EscalationConfig = Field(default_factory=EscalationConfig)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    shops: ShopNoticeConfig = Field(default_factory=ShopNoticeConfig)
    event_codes: dict[ViolationKind, str] = Field(default_factory=_default_codes)
    city_webhook: CityWebhookConfig | None = None
    auth: AuthConfig = Field(default_factory=AuthConfig)
    channels: ChannelsConfig = Field(default_factory=ChannelsConfig)
    outbound: OutboundConfig = Field(default_factory=OutboundConfig)
    max_evidence_bytes: int = Field(default=5 * 1024 * 1024, gt=0, le=EVIDENCE_BODY_CEILING,
                                    description="Largest evidence image accepted")
    evidence_s3: S3StoreConfig | None = Field(
        default=None, description="Keep evidence in this S3-compatible bucket (every dispatcher serves the same "
        "images); unset: in data_dir/evidence, this dispatcher's own")

    @model_validator(mode="after")
    def _town_clock(self) -> DispatcherConfig:
        """Working hours keep the town's time unless they name a zone of their own."""
        if self.escalation.working_hours.timezone is None:
            self.escalation.working_hours.timezone = self.timezone
        return self

    def public_url(self) -> str:
        return (self.http.public_url or f"http://{self.http.host}:{self.http.port}").rstrip("/")

    def outbound_urls(self) -> list[tuple[str, str]]:
        """(config key, URL) of every destination this config names, for the outbound rule."""
        found = [("city_webhook.url", self.city_webhook.url)] if self.city_webhook else []
        ch = self.channels
        found += [("channels.wecom.base_url", ch.wecom.base_url)] if ch.wecom else []
        found += [("channels.dingtalk.base_url", ch.dingtalk.base_url)] if ch.dingtalk else []
        found += [("channels.sms.url", ch.sms.url)] if ch.sms else []
        found += [(f"channels.robots.{name}.url", robot.url) for name, robot in ch.robots.items()]
        found += [(f"channels.webhooks.{name}.url", hook.url) for name, hook in ch.webhooks.items()]
        return found

    def outbound_problems(self) -> list[str]:
        """Destinations the outbound rule refuses already by their form (an internal address
        not allowed, plain http to the internet); names are checked again at each send."""
        guard, problems = self.outbound.guard(), []
        for key, url in self.outbound_urls():
            try:
                guard.check(url)
            except UrlRefused as exc:
                problems.append(f"{key}: {exc}")
        return problems


def load_dispatcher_config(path: str | Path) -> DispatcherConfig:
    return load_config(DispatcherConfig, path)
