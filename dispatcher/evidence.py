"""Evidence images received from edge boxes, stored by their SHA-256 (content addressed)."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

_SHA = re.compile(r"^[0-9a-f]{64}$")


class EvidenceRejected(ValueError):
    """The upload is not an acceptable evidence image; the message says why."""


class EvidenceStore:
    def __init__(self, root: str | Path, max_bytes: int) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        if not _SHA.match(sha256):
            raise EvidenceRejected("evidence name must be the image's lower-case hex SHA-256")
        return self.root / sha256[:2] / f"{sha256}.jpg"

    def put(self, sha256: str, data: bytes) -> Path:
        path = self.path(sha256)
        if len(data) > self.max_bytes:
            raise EvidenceRejected(f"image is {len(data)} bytes; the limit is {self.max_bytes}")
        if not data.startswith(b"\xff\xd8\xff"):
            raise EvidenceRejected("not a JPEG image")
        if hashlib.sha256(data).hexdigest() != sha256:
            raise EvidenceRejected("the image's SHA-256 does not match its name")
        if path.exists():
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        return path
