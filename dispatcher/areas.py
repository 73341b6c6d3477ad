"""The grid's areas on the map: one GeoJSON FeatureCollection (WGS 84 lon/lat) whose features
carry ``properties.id``, the id of a community or micro-grid of the grid file. Shapely
answers which micro-grid holds a point (an event's ``location``)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from shapely import STRtree
from shapely.geometry import Point, mapping, shape
from shapely.geometry.base import BaseGeometry


class AreasError(ValueError):
    """The GeoJSON is not a usable set of areas; the message names the feature and why."""


class GridAreas:
    def __init__(self, shapes: dict[str, BaseGeometry], micro_grids: Iterable[str]) -> None:
        self.shapes = shapes
        self._grid_ids = [g for g in micro_grids if g in shapes]
        self._tree = STRtree([shapes[g] for g in self._grid_ids])

    @classmethod
    def parse(cls, document: dict[str, Any], communities: set[str], micro_grids: set[str]) -> GridAreas:
        if document.get("type") != "FeatureCollection" or not isinstance(document.get("features"), list):
            raise AreasError("not a GeoJSON FeatureCollection")
        shapes: dict[str, BaseGeometry] = {}
        for i, feature in enumerate(document["features"]):
            where = f"features[{i}]"
            area_id = (feature.get("properties") or {}).get("id")
            if area_id not in communities | micro_grids:
                raise AreasError(f"{where}: properties.id {area_id!r} is no community or micro-grid of the grid")
            if area_id in shapes:
                raise AreasError(f"{where}: a second area for {area_id!r}")
            try:
                geometry = shape(feature.get("geometry") or {})
            except (ValueError, TypeError, AttributeError, KeyError, IndexError) as exc:
                raise AreasError(f"{where} ({area_id}): not a GeoJSON geometry: {exc}") from None
            if geometry.geom_type not in ("Polygon", "MultiPolygon"):
                raise AreasError(f"{where} ({area_id}): a {geometry.geom_type}, not a (Multi)Polygon")
            if not geometry.is_valid or geometry.area <= 0:
                raise AreasError(f"{where} ({area_id}): the polygon crosses itself or encloses nothing")
            minx, miny, maxx, maxy = geometry.bounds
            if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
                raise AreasError(f"{where} ({area_id}): coordinates are not lon/lat (WGS 84)")
            shapes[area_id] = geometry
        return cls(shapes, sorted(micro_grids))

    @classmethod
    def load(cls, path: Path, communities: set[str], micro_grids: set[str]) -> GridAreas:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise AreasError(f"cannot read GeoJSON: {exc}") from None
        return cls.parse(document, communities, micro_grids)

    def locate(self, lon: float, lat: float) -> str | None:
        """The micro-grid whose area holds the point (the smallest, where areas overlap)."""
        point = Point(lon, lat)
        hits = [self._grid_ids[i] for i in self._tree.query(point, predicate="intersects")]
        return min(hits, key=lambda g: self.shapes[g].area) if hits else None

    def feature_collection(self, properties: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
        """The areas as GeoJSON, with extra properties per id (names, open cases)."""
        properties = properties or {}
        return {"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": mapping(geometry),
             "properties": {"id": area_id, **properties.get(area_id, {})}}
            for area_id, geometry in self.shapes.items()
        ]}
