"""Sample payloads shared by several tests."""

from __future__ import annotations

import base64
import io
import os
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from PIL import Image

from contract import EventState, event_id_for, violation_id_for

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


def push_keys() -> dict[str, str]:
    """A browser's subscription keys: a P-256 public key and a 16-byte secret, base64url."""
    point = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return {"p256dh": base64.urlsafe_b64encode(point).decode().rstrip("="),
            "auth": base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")}


def jpeg_bytes(width: int = 64, height: int = 48, shade: int = 90) -> bytes:
    """A real JPEG image (evidence uploads are decoded before they are kept)."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), (shade, 120, 200)).save(out, "JPEG", quality=80)
    return out.getvalue()
