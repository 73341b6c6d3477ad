"""The demo bundle: the sample model and clip ``gridpatrol demo`` plays, fetched once.

``configs/demo-bundle.json`` (the manifest, committed) names each file with its size and
SHA-256 and where the release publishes them (``base_url``; ``GRIDPATROL_BUNDLE_URL``
overrides it, e.g. for a mirror inside the town's network). A file is taken from the data
folder (``GRIDPATROL_DATA``, else ``../shared``) when it is there with the right digest; else
from the user cache (``$XDG_CACHE_HOME/gridpatrol/<bundle>``, default ``~/.cache``), where it
is downloaded to once: into a ``.part`` file, never more bytes than the manifest says, its
digest checked before it takes its name. A file whose digest does not match is an error that
names it, and nothing of it is used or kept.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from gridpatrol.data import PROJECT_ROOT, data_dir
from gridpatrol.progress import Progress
from i18n import Msg

MANIFEST = PROJECT_ROOT / "configs" / "demo-bundle.json"
MAX_FILE_BYTES = 200 * 1024 * 1024  # a manifest naming more than this is broken
SAFE_PATH = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")


class BundleError(RuntimeError):
    """A bundle file that cannot be had: the message (a :class:`Msg`) names the file and why."""

    def __init__(self, message: Msg) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class BundleFile:
    path: str  # relative, as under the data folder: models/..., media/clips/...
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    name: str
    base_url: str
    files: tuple[BundleFile, ...]

    def file(self, path: str) -> BundleFile:
        for entry in self.files:
            if entry.path == path:
                return entry
        raise KeyError(path)


def load_manifest(path: Path = MANIFEST) -> Manifest:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        files = tuple(BundleFile(str(f["path"]), int(f["size"]), str(f["sha256"]).lower()) for f in data["files"])
        manifest = Manifest(str(data["name"]), str(data["base_url"]), files)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BundleError(Msg("{path}: not a bundle manifest ({reason})", path=str(path), reason=str(exc))) from None
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", manifest.name):
        raise BundleError(Msg("{path}: name {name} is not a plain folder name", path=str(path), name=manifest.name))
    for entry in files:
        if not SAFE_PATH.fullmatch(entry.path) or ".." in entry.path.split("/"):
            raise BundleError(Msg("{path}: {file} is not a relative path inside the bundle", path=str(path),
                                  file=entry.path))
        if not re.fullmatch(r"[0-9a-f]{64}", entry.sha256) or not 0 < entry.size <= MAX_FILE_BYTES:
            raise BundleError(Msg("{path}: {file} needs a SHA-256 and a size up to {limit} bytes", path=str(path),
                                  file=entry.path, limit=MAX_FILE_BYTES))
    return manifest


def cache_dir(manifest: Manifest) -> Path:
    """``$XDG_CACHE_HOME/gridpatrol/<bundle name>``; ``~/.cache`` when XDG_CACHE_HOME is unset
    or not absolute (as the XDG base directory specification says)."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".cache"
    return root / "gridpatrol" / manifest.name


def base_url(manifest: Manifest) -> str:
    url = os.environ.get("GRIDPATROL_BUNDLE_URL") or manifest.base_url
    if not re.match(r"^https?://[^/\s]+", url):
        raise BundleError(Msg("bundle URL {url}: an http(s) address is needed (GRIDPATROL_BUNDLE_URL)", url=url))
    return url.rstrip("/")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _matches(path: Path, entry: BundleFile) -> bool:
    return path.is_file() and path.stat().st_size == entry.size and sha256_of(path) == entry.sha256


def download(url: str, target: Path, entry: BundleFile, timeout_s: float = 30.0) -> None:
    """``url`` into ``target``, checked against ``entry``; on any failure nothing is left."""
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    digest = hashlib.sha256()
    received = 0
    try:
        with httpx.stream("GET", url, timeout=timeout_s, follow_redirects=True) as answer, part.open("wb") as out, \
                Progress(entry.size, "B", entry.path.rsplit("/", 1)[-1]) as progress:
            if answer.status_code != 200:
                raise BundleError(Msg("{file}: {url} answered HTTP {status}", file=entry.path, url=url,
                                      status=answer.status_code))
            for chunk in answer.iter_bytes(1 << 16):
                received += len(chunk)
                if received > entry.size:
                    raise BundleError(Msg("{file}: {url} sent more than the {size} bytes the manifest says; "
                                          "nothing of it is used", file=entry.path, url=url, size=entry.size))
                digest.update(chunk)
                out.write(chunk)
                progress.to(received)
        if received != entry.size or digest.hexdigest() != entry.sha256:
            raise BundleError(Msg("{file}: SHA-256 {got} ({received} bytes) is not the manifest's {want} ({size} "
                                  "bytes): the download is damaged or not this bundle; nothing of it is used",
                                  file=entry.path, got=digest.hexdigest(), received=received, want=entry.sha256,
                                  size=entry.size))
        os.replace(part, target)
    except httpx.HTTPError as exc:
        raise BundleError(Msg("{file}: cannot download {url}: {reason}", file=entry.path, url=url,
                              reason=str(exc))) from None
    except OSError as exc:  # a full disk, a cache folder not ours
        raise BundleError(Msg("{file}: cannot write it into {folder}: {reason}", file=entry.path,
                              folder=str(target.parent), reason=str(exc))) from None
    finally:
        part.unlink(missing_ok=True)


def fetch(paths: list[str], manifest: Manifest | None = None,
          say: Callable[[Msg], None] = print) -> list[Path]:
    """Where each of ``paths`` (manifest paths) is on this machine: the data folder's copy when
    its digest matches, else the cache's, downloaded first when missing or damaged."""
    manifest = manifest or load_manifest()
    cache = cache_dir(manifest)
    found: list[Path] = []
    for path in paths:
        entry = manifest.file(path)
        local = data_dir() / path
        if _matches(local, entry):
            found.append(local)
            continue
        cached = cache / path
        if not _matches(cached, entry):
            url = f"{base_url(manifest)}/{path.rsplit('/', 1)[-1]}"
            say(Msg("downloading {file} ({size:.1f} MB) from {url} into {folder}", file=path, size=entry.size / 1e6,
                    url=url, folder=str(cache)))
            download(url, cached, entry)
        found.append(cached)
    return found


__all__ = ["MANIFEST", "BundleError", "BundleFile", "Manifest", "cache_dir", "download", "fetch", "load_manifest"]
