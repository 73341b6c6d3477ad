"""The doctor's checks of an edge config: is the box ready for its cameras?

Checks in order, one line each, with what to do when one fails: the config validates; the
model loads on the chosen provider and knows every zone's classes; each camera's stream (and
substream) opens, with its size, frame rate, keyframe interval and whether only keyframes
need decoding at its sample rate; the broker takes the box's credentials and lets it publish
its status (ACL); the dispatcher's evidence URL and token answer; the evidence folder's disk
has room; the box's clock agrees with the dispatcher's.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx

from contract.configfile import ConfigError
from contract.events import TOPIC_PREFIX
from edge.config import EdgeConfig, load_edge_config
from gridpatrol.doctor.checks import BrokerRefused, Result, broker_session, check_clock, check_disk
from i18n import Msg


def check_config(path: Path) -> tuple[Result, EdgeConfig | None]:
    try:
        config = load_edge_config(path)
    except ConfigError as exc:
        return Result(False, Msg("config"), str(exc), Msg("correct the key named above and run doctor again")), None
    return Result(True, Msg("config"), Msg("{path}: {cameras} cameras, edge {edge}", path=str(path),
                                           cameras=len(config.cameras), edge=config.edge_id)), config


def check_model(config: EdgeConfig) -> Result:
    from edge.analyzer import class_ids
    from edge.detector import YoloDetector, cpu_notice
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
    found = Msg("{path} on {providers}, {classes} classes cover every zone", path=str(config.model.path),
                providers=providers, classes=len(detector.class_names))
    notice = cpu_notice(config.model, detector)
    if notice is not None:
        return Result(None, Msg("model"), found, notice)
    return Result(True, Msg("model"), found)


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
    name = Msg("broker")
    try:
        with broker_session(config.mqtt, f"{config.edge_id}-doctor", Msg("the box")) as (client, answers):
            # The box's own doctor topic (nobody reads it) at QoS 1: the broker's PUBACK says
            # whether its ACL lets the box publish under its id.
            topic = f"{TOPIC_PREFIX}/{config.edge_id}/doctor"
            client.publish(topic, b"", qos=1).wait_for_publish(10)
            reason = answers.get("publish")
            if reason is not None and reason.is_failure:
                return Result(False, name, Msg("the broker does not let {edge} publish on {topic}: {reason}",
                                               edge=config.edge_id, topic=topic, reason=str(reason)),
                              Msg("give the box's user its topics under gridpatrol/v1/{edge}/ in the broker's ACL "
                                  "(docker/mosquitto/acl.example)", edge=config.edge_id))
    except BrokerRefused as refused:
        return refused.result
    return Result(True, name, Msg("{url} takes the box's credentials and its status messages", url=config.mqtt.url))


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


def check_evidence_disk(config: EdgeConfig) -> Result:
    # what pruning keeps free, and room for a day of evidence
    return check_disk(Path(config.evidence.dir), config.evidence.min_free_mb + 500.0, Msg("evidence"),
                      Msg("free disk space, or point evidence.dir at a larger disk"))


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
    yield check_evidence_disk(config)
    yield check_clock(clock, took, Msg("the dispatcher"))


__all__ = ["run_checks"]
