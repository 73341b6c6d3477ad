"""The MQTT side of the contract: broker settings and a client set up the same way on both halves."""

from __future__ import annotations

from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import BaseModel, ConfigDict, Field, field_validator


class MqttConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = "mqtt://127.0.0.1:1883"
    username: str | None = None
    password: str | None = None
    client_id: str | None = None
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    ca_file: str | None = Field(default=None, description="CA bundle for mqtts:// (system CAs if unset)")
    reconnect_max_s: float = Field(
        default=5.0, ge=1.0, le=300.0,
        description="Longest wait between reconnection attempts (they start at 1 s and double): the most a "
        "returning broker waits for this client, and what a town's clients cost it while it is away",
    )

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError("must look like mqtt://host:port or mqtts://host:port")
        try:
            parts.port  # noqa: B018 - raises on a bad port
        except ValueError as exc:
            raise ValueError(f"bad port: {exc}") from None
        return url

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (8883 if parts.scheme == "mqtts" else 1883)


def mqtt_client(cfg: MqttConfig, client_id: str) -> mqtt.Client:
    """A paho client (MQTT v5) with TLS and login from ``cfg``; not yet connected."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    if urlsplit(cfg.url).scheme == "mqtts":
        client.tls_set(ca_certs=cfg.ca_file)
    if cfg.username:
        client.username_pw_set(cfg.username, cfg.password)
    client.reconnect_delay_set(1, max(1, round(cfg.reconnect_max_s)))
    return client
