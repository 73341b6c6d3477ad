"""``gridpatrol doctor --config FILE``: is an edge box ready for its cameras?

Checks in order, one line each, with what to do when one fails: the config validates; the
model loads on the chosen provider and knows every zone's classes; each camera's stream (and
substream) opens, with its size, frame rate, keyframe interval and whether only keyframes
need decoding at its sample rate; the broker takes the box's credentials and lets it publish
its status (ACL); the dispatcher's evidence URL and token answer; the evidence folder's disk
has room; the box's clock agrees with the dispatcher's. A check that cannot run for an
earlier failure is skipped. The exit code is 1 when any check failed.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx

from contract import camera_status_topic
from contract.configfile import ConfigError
from edge.config import EdgeConfig, load_edge_config
from i18n import Msg, Translator

MAX_CLOCK_OFFSET_S = 5.0  # event times, dwell clocks and deadlines are compared across machines


@dataclass(frozen=True)
class Result:
    ok: bool | None  # None: skipped
    name: Msg
    detail: Msg | str
    hint: Msg | str = ""


def check_config(path: Path) -> tuple[Result, EdgeConfig | None]:
    try:
        config = load_edge_config(path)
    except ConfigError as exc:
        return Result(False, Msg("config"), str(exc), Msg("correct the key named above and run doctor again")), None
    return Result(True, Msg("config"), Msg("{path}: {cameras} cameras, edge {edge}", path=str(path),
                                           cameras=len(config.cameras), edge=config.edge_id)), config


def check_model(config: EdgeConfig) -> Result:
    from edge.analyzer import class_ids
    from edge.detector import YoloDetector
    from edge.foreground import FOREGROUND_CLASS

    try:
        detector = YoloDetector.from_config(config.model)
    except Exception as exc:
        return Result(False, Msg("model"), f"{config.model.path}: {exc}",
                      Msg("check model.path (an ONNX file exported by Ultralytics) and model.providers"))
    known = [*detector.class_names, FOREGROUND_CLASS]
    for camera in config.cameras:
        for zone in camera.zones:
            try:
                class_ids(zone.classes, known, f"camera {camera.id} zone {zone.id}")
            except ValueError as exc:
                return Result(False, Msg("model"), str(exc),
                              Msg("use the model's class names in the zone, or a model that has these classes"))
    providers = ", ".join(detector.session.get_providers())
    return Result(True, Msg("model"), Msg("{path} on {providers}, {classes} classes cover every zone",
                                          path=str(config.model.path), providers=providers,
                                          classes=len(detector.class_names)))


def check_stream(camera_id: str, url: str, sample_fps: float, decode: str, what: Msg) -> Result:
    from edge.probe import probe_stream
    from edge.source import SourceError

    try:
        profile = probe_stream(url, seconds=4.0, open_timeout_s=5.0)
    except SourceError as exc:
        return Result(False, Msg("camera {camera} {what}", camera=camera_id, what=what), str(exc),
                      Msg("check the URL, the camera's user and password, and that this box reaches it"))
    gop = f"{profile.gop_s:.1f} s" if profile.gop_s else "?"
    keyframes = profile.decoded_fps(sample_fps, decode) < profile.fps
    return Result(True, Msg("camera {camera} {what}", camera=camera_id, what=what),
                  Msg("{width}x{height} at {fps:.1f} fps, a keyframe every {gop}; at {sample} samples/s "
                      "{decoding}", width=profile.width, height=profile.height, fps=profile.fps, gop=gop,
                      sample=sample_fps, decoding=Msg("only keyframes are decoded") if keyframes
                      else Msg("every frame is decoded (a keyframe interval of at most 1/sample_fps s "
                               "would save that)")))


def check_broker(config: EdgeConfig) -> Result:
    from contract.mqtt import mqtt_client

    client = mqtt_client(config.mqtt, f"{config.edge_id}-doctor")
    connected = threading.Event()
    answer: dict[str, object] = {}

    def on_connect(c, userdata, flags, reason, properties) -> None:
        answer["connect"] = reason
        connected.set()

    def on_publish(c, userdata, mid, reason, properties) -> None:
        answer["publish"] = reason

    client.on_connect, client.on_publish = on_connect, on_publish
    name = Msg("broker")
    try:
        client.connect(config.mqtt.host, config.mqtt.port, 10)
    except OSError as exc:
        return Result(False, name, f"{config.mqtt.url}: {exc}", Msg("start the broker or correct mqtt.url"))
    client.loop_start()
    try:
        if not connected.wait(10):
            return Result(False, name, Msg("{url}: no answer", url=config.mqtt.url), Msg("correct mqtt.url"))
        if answer["connect"].is_failure:  # type: ignore[attr-defined]
            return Result(False, name, Msg("{url} refused the box: {reason}", url=config.mqtt.url,
                                           reason=str(answer["connect"])),
                          Msg("check mqtt.username and mqtt.password against the broker's users"))
        # The box's own status topic (retained empty: nothing is left behind) at QoS 1: the
        # broker's PUBACK says whether its ACL lets the box publish.
        topic = camera_status_topic(config.edge_id, config.cameras[0].id if config.cameras else "doctor")
        info = client.publish(topic + "/doctor", b"", qos=1)
        info.wait_for_publish(10)
        reason = answer.get("publish")
        if reason is not None and reason.is_failure:  # type: ignore[attr-defined]
            return Result(False, name, Msg("the broker does not let {edge} publish on {topic}: {reason}",
                                           edge=config.edge_id, topic=topic, reason=str(reason)),
                          Msg("give the box's user write access to gridpatrol/v1/{edge}/# in the broker's ACL",
                              edge=config.edge_id))
        return Result(True, name, Msg("{url} takes the box's credentials and its status messages",
                                      url=config.mqtt.url))
    finally:
        client.loop_stop()
        client.disconnect()


def check_dispatcher(config: EdgeConfig) -> tuple[Result, datetime | None, float]:
    """The evidence URL and token; the dispatcher's clock (its Date header) for the next check."""
    name = Msg("dispatcher")
    url = config.evidence.upload_url
    if not url:
        return Result(None, name, Msg("evidence.upload_url is not set: evidence stays on this box")), None, 0.0
    probe = f"{url.rstrip('/')}/{'0' * 64}.jpg"
    headers = {"authorization": f"Bearer {config.evidence.upload_token}"} if config.evidence.upload_token else {}
    began = time.time()
    try:
        answer = httpx.get(probe, headers=headers, timeout=10, follow_redirects=False)
    except httpx.HTTPError as exc:
        return Result(False, name, f"{url}: {exc}", Msg("start the dispatcher or correct evidence.upload_url")), \
            None, 0.0
    took = time.time() - began
    said = answer.headers.get("date")
    clock = parsedate_to_datetime(said) if said else None
    if answer.status_code == 401:
        return Result(False, name, Msg("{url} refused the token", url=url),
                      Msg("make an edge token (gridpatrol dispatcher token --name BOX --role edge) and set "
                          "evidence.upload_token")), clock, took
    if answer.status_code not in (403, 404):  # 403/404: the token was taken, the probe image is nobody's
        return Result(False, name, Msg("{url} answered {status}: not a GridPatrol evidence endpoint",
                                       url=url, status=answer.status_code),
                      Msg("evidence.upload_url is the dispatcher's URL and /api/v1/evidence")), clock, took
    return Result(True, name, Msg("{url} takes the box's token", url=url)), clock, took


def check_disk(config: EdgeConfig) -> Result:
    folder = Path(config.evidence.dir)
    existing = next((p for p in [folder, *folder.parents] if p.exists()), Path("."))
    free_mb = shutil.disk_usage(existing).free / 1e6
    need = config.evidence.min_free_mb + 500.0  # what pruning keeps free, and room for a day of evidence
    if free_mb < need:
        return Result(False, Msg("disk"), Msg("{free:.0f} MB free where evidence is kept ({folder}), "
                                              "{need:.0f} MB wanted", free=free_mb, folder=str(existing), need=need),
                      Msg("free disk space, or point evidence.dir at a larger disk"))
    return Result(True, Msg("disk"), Msg("{free:.0f} MB free where evidence is kept ({folder})", free=free_mb,
                                         folder=str(existing)))


def check_clock(clock: datetime | None, took_s: float) -> Result:
    name = Msg("clock")
    if clock is None:
        return Result(None, name, Msg("no dispatcher to compare with"))
    offset = (datetime.now(UTC) - clock).total_seconds() - took_s / 2
    if abs(offset) > MAX_CLOCK_OFFSET_S + took_s:
        return Result(False, name, Msg("this box's clock is {offset:+.0f} s off the dispatcher's", offset=offset),
                      Msg("run NTP (chrony, systemd-timesyncd) on the box and the dispatcher's host"))
    return Result(True, name, Msg("within {limit:.0f} s of the dispatcher's", limit=MAX_CLOCK_OFFSET_S))


def run_checks(path: Path) -> Iterator[Result]:
    """The checks of an edge config, in order, each as soon as it is done."""
    result, config = check_config(path)
    yield result
    if config is None:
        return
    yield check_model(config)
    for camera in config.cameras:
        yield check_stream(camera.id, camera.url, camera.sample_fps, camera.decode,
                           Msg("main stream") if camera.detect_url else Msg("stream"))
        if camera.detect_url:
            yield check_stream(camera.id, camera.detect_url, camera.sample_fps, camera.decode, Msg("substream"))
    yield check_broker(config)
    dispatcher, clock, took = check_dispatcher(config)
    yield dispatcher
    yield check_disk(config)
    yield check_clock(clock, took)


def report(path: Path, words: Translator, write: Callable[[str], None] = print) -> int:
    """Runs the checks and writes a line for each (and what to do for a failure); 1 if any failed."""
    failed = False
    marks = {True: "✓", False: "✗", None: "–"}
    for result in run_checks(path):
        failed |= result.ok is False
        write(f"{marks[result.ok]} {words.msg(result.name)}: {words.msg(result.detail)}")
        if result.ok is False and result.hint:
            write(f"    → {words.msg(result.hint)}")
    return 1 if failed else 0


__all__ = ["Result", "report", "run_checks"]
