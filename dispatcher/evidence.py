"""Evidence images received from edge boxes, stored by their SHA-256 (content addressed)."""

from __future__ import annotations

import hashlib
import io
import os
import re
import warnings
from pathlib import Path

from PIL import Image

from contract.events import SHA256_PATTERN

SHA256 = re.compile(SHA256_PATTERN)


class EvidenceRejected(ValueError):
    """The upload is not an acceptable evidence image; the message says why."""


MAX_SIDE = 8192  # no camera or phone photo kept as evidence is larger (a 1080p frame is 1920)


def check_jpeg(data: bytes, max_side: int = MAX_SIDE) -> tuple[int, int]:
    """The width and height of a JPEG that decodes whole; EvidenceRejected otherwise. The
    size is read from the header and bounded before the pixels are decoded."""
    if not data.startswith(b"\xff\xd8\xff"):
        raise EvidenceRejected("not a JPEG image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=["JPEG"]) as image:
                width, height = image.size
                if width > max_side or height > max_side:
                    raise EvidenceRejected(f"image is {width}x{height} pixels; the limit is {max_side} a side")
                image.load()
    except EvidenceRejected:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise EvidenceRejected(f"not a whole JPEG image ({type(exc).__name__})") from None
    return width, height


class EvidenceStore:
    def __init__(self, root: str | Path, max_bytes: int) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        if not SHA256.match(sha256):
            raise EvidenceRejected("evidence name must be the image's lower-case hex SHA-256")
        return self.root / sha256[:2] / f"{sha256}.jpg"

    def put(self, sha256: str, data: bytes) -> Path:
        path = self.path(sha256)
        if len(data) > self.max_bytes:
            raise EvidenceRejected(f"image is {len(data)} bytes; the limit is {self.max_bytes}")
        if hashlib.sha256(data).hexdigest() != sha256:
            raise EvidenceRejected("the image's SHA-256 does not match its name")
        check_jpeg(data)
        if path.exists():
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        return path
