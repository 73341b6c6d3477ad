"""Evidence images received from edge boxes and phones, stored by their SHA-256 (content
addressed): in a folder of this dispatcher, or in an S3-compatible bucket all of them share."""

from __future__ import annotations

import hashlib
import io
import os
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from PIL import Image

from contract.events import SHA256_PATTERN

if TYPE_CHECKING:
    from dispatcher.config import S3StoreConfig

T = TypeVar("T")

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


class EvidenceUnavailable(RuntimeError):
    """The store does not answer (an S3 service down, credentials refused); try again later."""


class EvidenceStore:
    """Evidence images by their SHA-256: checked (size, digest, a whole JPEG) before any store
    keeps them; :class:`FolderStore` on this machine, :class:`S3Store` shared by every
    dispatcher of the town."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes

    @staticmethod
    def key(sha256: str) -> str:
        if not SHA256.match(sha256):
            raise EvidenceRejected("evidence name must be the image's lower-case hex SHA-256")
        return f"{sha256[:2]}/{sha256}.jpg"

    def check(self, sha256: str, data: bytes) -> str:
        key = self.key(sha256)
        if len(data) > self.max_bytes:
            raise EvidenceRejected(f"image is {len(data)} bytes; the limit is {self.max_bytes}")
        if hashlib.sha256(data).hexdigest() != sha256:
            raise EvidenceRejected("the image's SHA-256 does not match its name")
        check_jpeg(data)
        return key

    def put(self, sha256: str, data: bytes) -> None:
        raise NotImplementedError

    def get(self, sha256: str) -> bytes | None:
        """The image, or None when the store has none of that name."""
        raise NotImplementedError


class FolderStore(EvidenceStore):
    """The embedded default: files under ``root`` (``data_dir/evidence``), one dispatcher's."""

    def __init__(self, root: str | Path, max_bytes: int) -> None:
        super().__init__(max_bytes)
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        return self.root / self.key(sha256)

    def put(self, sha256: str, data: bytes) -> None:
        path = self.root / self.check(sha256, data)
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def get(self, sha256: str) -> bytes | None:
        path = self.path(sha256)
        return path.read_bytes() if path.is_file() else None


class S3Store(EvidenceStore):
    """An S3-compatible bucket (MinIO, SeaweedFS, Alibaba OSS, Huawei OBS speak the API):
    every dispatcher reads and writes the same images. Retention is the bucket's lifecycle
    rule (expire objects under ``prefix`` after N days), set where the bucket is run."""

    def __init__(self, cfg: S3StoreConfig, max_bytes: int) -> None:
        import boto3
        from botocore.config import Config

        super().__init__(max_bytes)
        self.cfg = cfg
        self.client = boto3.client(
            "s3", endpoint_url=cfg.endpoint_url, region_name=cfg.region, aws_access_key_id=cfg.access_key_id,
            aws_secret_access_key=cfg.secret_access_key,
            config=Config(s3={"addressing_style": "path"}, connect_timeout=cfg.timeout_s, read_timeout=cfg.timeout_s,
                          retries={"max_attempts": 2, "mode": "standard"}),
        )

    def _call(self, what: str, call: Callable[[], T], missing: bool = False) -> T | None:
        """``call()``; None where ``missing`` and the store has no such object; else its
        failures as :class:`EvidenceUnavailable`."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return call()
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "?")
            if missing and code in ("NoSuchKey", "404"):
                return None
            raise EvidenceUnavailable(f"evidence store {self.cfg.endpoint_url} refused {what}: {code}") from None
        except BotoCoreError as exc:
            raise EvidenceUnavailable(f"evidence store {self.cfg.endpoint_url} unreachable ({what}): {exc}") from None

    def ensure_bucket(self) -> None:
        """The bucket, made when missing (its lifecycle rules are the store's to set)."""
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=self.cfg.bucket)
        except ClientError:
            self._call("create_bucket", lambda: self.client.create_bucket(Bucket=self.cfg.bucket))

    def put(self, sha256: str, data: bytes) -> None:
        key = self.cfg.prefix + self.check(sha256, data)
        self._call("put_object", lambda: self.client.put_object(
            Bucket=self.cfg.bucket, Key=key, Body=data, ContentType="image/jpeg"))

    def get(self, sha256: str) -> bytes | None:
        key = self.cfg.prefix + self.key(sha256)
        found = self._call("get_object", lambda: self.client.get_object(Bucket=self.cfg.bucket, Key=key),
                           missing=True)
        if found is None:
            return None
        body = found["Body"]
        try:
            return body.read(self.max_bytes + 1)
        finally:
            body.close()


def evidence_store(data_dir: Path, s3: S3StoreConfig | None, max_bytes: int) -> EvidenceStore:
    if s3 is None:
        return FolderStore(data_dir / "evidence", max_bytes)
    store = S3Store(s3, max_bytes)
    store.ensure_bucket()
    return store
