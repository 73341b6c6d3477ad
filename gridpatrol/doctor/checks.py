"""What every doctor check returns, and the checks both halves share: disk room, the clock,
a session with the broker."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from contract.mqtt import MqttConfig, mqtt_client
from i18n import Msg

MAX_CLOCK_OFFSET_S = 5.0  # event times, dwell clocks and deadlines are compared across machines


@dataclass(frozen=True)
class Result:
    ok: bool | None  # None: skipped, or only worth knowing
    name: Msg
    detail: Msg | str
    hint: Msg | str = ""


def check_disk(folder: Path, need_mb: float, what: Msg, hint: Msg) -> Result:
    """Free space on the disk that holds ``folder`` (or its nearest existing parent)."""
    existing = next((p for p in [folder, *folder.parents] if p.exists()), Path("."))
    free_mb = shutil.disk_usage(existing).free / 1e6
    if free_mb < need_mb:
        return Result(False, Msg("disk"), Msg("{free:.0f} MB free where {what} is kept ({folder}), {need:.0f} MB "
                                              "wanted", free=free_mb, what=what, folder=str(existing), need=need_mb),
                      hint)
    return Result(True, Msg("disk"), Msg("{free:.0f} MB free where {what} is kept ({folder})", free=free_mb,
                                         what=what, folder=str(existing)))


def check_clock(clock: datetime | None, took_s: float, other: Msg) -> Result:
    """This machine's clock against ``other``'s reading ``clock``, taken in a request of ``took_s``."""
    name = Msg("clock")
    if clock is None:
        return Result(None, name, Msg("nothing to compare with"))
    offset = (datetime.now(UTC) - clock).total_seconds() - took_s / 2
    if abs(offset) > MAX_CLOCK_OFFSET_S + took_s:
        return Result(False, name, Msg("this machine's clock is {offset:+.0f} s off {other}'s", offset=offset,
                                       other=other),
                      Msg("run NTP (chrony, systemd-timesyncd) on both machines"))
    return Result(True, name, Msg("within {limit:.0f} s of {other}'s", limit=MAX_CLOCK_OFFSET_S, other=other))


class BrokerRefused(Exception):
    def __init__(self, result: Result) -> None:
        super().__init__(str(result.detail))
        self.result = result


@contextmanager
def broker_session(cfg: MqttConfig, client_id: str, who: Msg) -> Iterator[tuple[mqtt.Client, dict[str, Any]]]:
    """A connected client and the broker's answers (``publish``, ``subscribe``) as they come;
    :class:`BrokerRefused` carries the failed check when the broker cannot be reached or says no."""
    client = mqtt_client(cfg, client_id)
    answered = threading.Event()
    answers: dict[str, Any] = {}

    def on_connect(c, userdata, flags, reason, properties) -> None:
        answers["connect"] = reason
        answered.set()

    def on_publish(c, userdata, mid, reason, properties) -> None:
        answers["publish"] = reason

    def on_subscribe(c, userdata, mid, reasons, properties) -> None:
        answers["subscribe"] = reasons
        answers["subscribed"].set()

    answers["subscribed"] = threading.Event()
    client.on_connect, client.on_publish, client.on_subscribe = on_connect, on_publish, on_subscribe
    name = Msg("broker")
    try:
        client.connect(cfg.host, cfg.port, 10)
    except OSError as exc:
        raise BrokerRefused(Result(False, name, f"{cfg.url}: {exc}", Msg("start the broker or correct mqtt.url"))) \
            from None
    client.loop_start()
    try:
        if not answered.wait(10):
            raise BrokerRefused(Result(False, name, Msg("{url}: no answer", url=cfg.url), Msg("correct mqtt.url")))
        if answers["connect"].is_failure:
            raise BrokerRefused(Result(False, name, Msg("{url} refused {who}: {reason}", url=cfg.url, who=who,
                                                        reason=str(answers["connect"])),
                                       Msg("check mqtt.username and mqtt.password against the broker's users")))
        yield client, answers
    finally:
        client.loop_stop()
        client.disconnect()


__all__ = ["MAX_CLOCK_OFFSET_S", "BrokerRefused", "Result", "broker_session", "check_clock", "check_disk"]
