"""The zone editor's file: the town's edge config, of which it reads and rewrites only one
camera's ``zones``. Zones are checked by the contract's model (the one the edge enforces)
before anything is written; the file is replaced atomically and the previous version kept
beside it as ``<name>.bak``. Other keys, and ``${VAR}`` placeholders, stay as they were;
YAML comments do not survive a save."""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from contract.configfile import first_error
from contract.zones import validate_zones


class ZonesRejected(ValueError):
    """The zones do not validate; the message names the key (``zones[1].polygon: ...``)."""


class ZoneFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._known: tuple[tuple[int, int], dict[str, str | None]] | None = None

    def _document(self) -> dict[str, Any]:
        try:
            document = yaml.safe_load(self.path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise LookupError(f"cannot read the edge config {self.path}: {exc}") from None
        if not isinstance(document, dict) or not isinstance(document.get("cameras"), list):
            raise LookupError(f"{self.path} has no cameras list")
        return document

    def cameras(self) -> list[dict[str, Any]]:
        """Each camera of the file: id, box, and its zones as written."""
        return [{"camera_id": c.get("id"), "edge": c.get("edge"), "zones": c.get("zones") or []}
                for c in self._document()["cameras"] if isinstance(c, dict)]

    def known_cameras(self) -> dict[str, str | None]:
        """Camera id -> the box it is assigned to (None: any box, a one-box config), read again
        only when the file changed. An unreadable file keeps the last good list."""
        try:
            stat = self.path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
            if self._known is None or self._known[0] != stamp:
                self._known = stamp, {str(c["camera_id"]): c["edge"] for c in self.cameras()}
        except (OSError, LookupError):
            if self._known is None:
                raise
        return self._known[1]

    def camera(self, camera_id: str) -> dict[str, Any]:
        for camera in self.cameras():
            if camera["camera_id"] == camera_id:
                return camera
        raise KeyError(f"no camera {camera_id!r} in {self.path.name}")

    def box_zones(self, camera_id: str) -> tuple[str, dict[str, list[Any]]]:
        """The box that runs the camera (its ``edge`` in a town config, else the config's
        ``edge_id``) and every camera of that box with its zones as written: what is pushed."""
        document = self._document()
        cameras = [c for c in document["cameras"] if isinstance(c, dict) and c.get("id")]
        found = [c for c in cameras if c["id"] == camera_id]
        if not found:
            raise KeyError(f"no camera {camera_id!r} in {self.path.name}")
        edge = found[0].get("edge") or document.get("edge_id")
        if not edge:
            raise LookupError(f"{self.path.name}: camera {camera_id} has no edge and the file no edge_id")
        assigned = any(c.get("edge") for c in cameras)
        return str(edge), {str(c["id"]): c.get("zones") or [] for c in cameras
                           if not assigned or c.get("edge") == edge}

    def save(self, camera_id: str, zones: list[dict[str, Any]], micro_grids: set[str] | None = None,
             shops: set[str] | None = None) -> list[dict[str, Any]]:
        """Validate ``zones`` and write them as the camera's; returns them as stored. With
        ``micro_grids`` and ``shops`` (the grid's), a zone may name only those."""
        try:
            checked = validate_zones(zones)
        except ValidationError as exc:
            raise ZonesRejected(first_error(exc, "zones")) from None
        except ValueError as exc:
            raise ZonesRejected(f"zones: {exc}") from None
        for i, zone in enumerate(checked):
            if micro_grids is not None and zone.micro_grid is not None and zone.micro_grid not in micro_grids:
                raise ZonesRejected(f"zones[{i}].micro_grid: {zone.micro_grid!r} is not a micro-grid of the grid")
            if shops is not None and zone.shop_id is not None and zone.shop_id not in shops:
                raise ZonesRejected(f"zones[{i}].shop_id: {zone.shop_id!r} is not a shop of the grid")
        stored = [z.model_dump(mode="json", exclude_defaults=True) for z in checked]
        with self._lock:
            document = self._document()
            matches = [c for c in document["cameras"] if isinstance(c, dict) and c.get("id") == camera_id]
            if not matches:
                raise KeyError(f"no camera {camera_id!r} in {self.path.name}")
            matches[0]["zones"] = stored
            text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
            fd, temp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    out.write(text)
                    out.flush()
                    os.fsync(out.fileno())
                backup = self.path.with_name(self.path.name + ".bak")
                backup.write_bytes(self.path.read_bytes())
                os.replace(temp, self.path)
            except BaseException:
                Path(temp).unlink(missing_ok=True)
                raise
        return stored

