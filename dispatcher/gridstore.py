"""The grid in force, versioned in the database so that every dispatcher uses the same one.

The grid file is the starting point: at start, when its content differs from the last
version imported from it, it becomes a new version (so an edited file wins). The admin API
saves new versions (a new roster, leave, a whole grid); each dispatcher polls for a newer
version and switches to it. Every version is kept with who saved it, when and why.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from dispatcher.areas import AreasError, GridAreas
from dispatcher.db import GridVersionRow
from dispatcher.grid import Grid
from dispatcher.periodic import PeriodicWorker

log = logging.getLogger(__name__)


class GridRejected(ValueError):
    """A grid document that does not validate; the message names the key and reason."""


def grid_document(grid: Grid) -> dict[str, Any]:
    """The grid as one JSON document, its areas inline as GeoJSON."""
    document = grid.model_dump(mode="json", exclude={"areas_file"})
    document["areas"] = json.loads(json.dumps(grid.areas.feature_collection())) if grid.areas else None
    return document


def grid_from_document(document: dict[str, Any]) -> Grid:
    body = dict(document)
    areas = body.pop("areas", None)
    try:
        grid = Grid.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise GridRejected(f"{where}: {first['msg']}") from None
    if areas:
        try:
            grid.with_areas(GridAreas.parse(areas, {c.id for c in grid.communities},
                                            {g.id for g in grid.micro_grids}))
        except AreasError as exc:
            raise GridRejected(f"areas: {exc}") from None
    return grid


def _sha(document: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(document, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class GridStore:
    def __init__(self, sessions: sessionmaker) -> None:
        self.sessions = sessions

    def start_from_file(self, from_file: Grid) -> tuple[int, Grid]:
        """The version in force at start: the file's, if it changed since it was last imported."""
        document = grid_document(from_file)
        sha = _sha(document)
        with self.sessions() as session:
            last_import = session.scalar(select(GridVersionRow).where(GridVersionRow.source == "file")
                                         .order_by(GridVersionRow.id.desc()).limit(1))
            if last_import is None or last_import.sha256 != sha:
                row = GridVersionRow(source="file", sha256=sha, document=document, created_by="grid file",
                                     note="imported at start")
                session.add(row)
                session.commit()
                return row.id, from_file
        return self.latest()

    def latest_id(self) -> int:
        with self.sessions() as session:
            return session.scalar(select(func.max(GridVersionRow.id))) or 0

    def latest(self) -> tuple[int, Grid]:
        with self.sessions() as session:
            row = session.scalar(select(GridVersionRow).order_by(GridVersionRow.id.desc()).limit(1))
            if row is None:
                raise LookupError("no grid version stored")
            return row.id, grid_from_document(row.document)

    def save(self, grid: Grid, by: str, note: str | None) -> int:
        document = grid_document(grid)
        with self.sessions() as session:
            row = GridVersionRow(source="api", sha256=_sha(document), document=document, created_by=by, note=note)
            session.add(row)
            session.commit()
            return row.id

    def versions(self, limit: int = 100) -> list[dict[str, Any]]:
        with self.sessions() as session:
            rows = session.scalars(select(GridVersionRow).order_by(GridVersionRow.id.desc()).limit(limit))
            return [{"id": r.id, "source": r.source, "created_by": r.created_by, "note": r.note,
                     "created_at": r.created_at.isoformat(), "sha256": r.sha256} for r in rows]


class GridWatcher(PeriodicWorker):
    """Switches this dispatcher to a newer grid version saved by any dispatcher."""

    def __init__(self, store: GridStore, current_id: int, apply: Callable[[Grid], None], poll_s: float) -> None:
        super().__init__("grid versions", poll_s)
        self.store = store
        self.current_id = current_id
        self.apply = apply

    def tick(self) -> int:
        newest = self.store.latest_id()
        if newest <= self.current_id:
            return 0
        version, grid = self.store.latest()
        self.apply(grid)
        log.info("grid version %d in force (was %d)", version, self.current_id)
        self.current_id = version
        return 1
