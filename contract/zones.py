"""A camera's zones: where and when a violation counts. Shared by the edge, which enforces
them, and the dispatcher's zone editor, which saves them back to the town's edge config."""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator
from shapely.geometry import LineString, Point, Polygon

from contract.configfile import WeeklyWindow
from contract.events import GeoPoint, Identifier, ViolationKind


def require_unique_ids(what: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for item in ids:
        if item in seen:
            raise ValueError(f"{what} id {item!r} appears twice")
        seen.add(item)


MAX_ZONE_POINTS = 64  # a zone is a strip of pavement or a shop front, drawn by hand
MAX_ZONES = 64  # per camera
ClassName = Annotated[str, Field(min_length=1, max_length=64)]
DOOR_LINE_MIN = 0.01  # normalized: a door line shorter than 1 % of the frame is a slip of the mouse
DOOR_SNAP = 0.03  # how far a door line's end may lie from the strip's border


class ActiveWindow(WeeklyWindow):
    """When a zone is enforced: weekdays and hours in the edge's time zone."""


Point2 = tuple[float, float]


def homography_from_points(image: list[Point2], ground: list[Point2]) -> np.ndarray:
    """The 3x3 homography taking each of four ``image`` points to its ``ground`` point (the
    direct linear transform with h33 = 1); ``ValueError`` when three of either lie on a line."""
    for name, points in (("image", image), ("metres", ground)):
        p = np.asarray(points, np.float64)
        scale = max(float(np.ptp(p, axis=0).max()), 1e-12) ** 2
        for i, j, k in ((0, 1, 2), (0, 1, 3), (0, 2, 3), (1, 2, 3)):
            (ax, ay), (bx, by) = p[j] - p[i], p[k] - p[i]
            if abs(ax * by - ay * bx) < 1e-3 * scale:
                raise ValueError(f"{name}: three of the four points lie on a line (points {i}, {j}, {k}): "
                                 "pick four corners of a flat area")
    rows, rhs = [], []
    for (x, y), (u, v) in zip(image, ground, strict=True):
        rows += [[x, y, 1, 0, 0, 0, -u * x, -u * y], [0, 0, 0, x, y, 1, -v * x, -v * y]]
        rhs += [u, v]
    try:
        h = np.linalg.solve(np.asarray(rows, np.float64), np.asarray(rhs, np.float64))
    except np.linalg.LinAlgError:
        raise ValueError("no homography takes these image points to these ground points") from None
    return np.append(h, 1.0).reshape(3, 3)


class GroundPlane(BaseModel):
    """Where a zone's camera is calibrated: its ground plane, so that stillness is judged in
    metres and metres per second rather than in image terms. Either four points of the image
    (normalized like the polygon, e.g. the corners of a parking bay or lane marks) with where
    they lie on the ground in metres, or the homography itself."""

    model_config = ConfigDict(extra="forbid")

    image: list[Point2] | None = Field(
        default=None, min_length=4, max_length=4, description="Four normalized x,y points of the image")
    metres: list[Point2] | None = Field(
        default=None, min_length=4, max_length=4,
        description="The same four points on the ground, x,y in metres (any origin, any direction)")
    homography: list[list[float]] | None = Field(
        default=None, min_length=3, max_length=3,
        description="Instead of the points: the 3x3 matrix taking normalized image x,y to ground metres")
    still_m: float = Field(default=1.0, gt=0.0, le=50.0,
                           description="A still object's ground point stays this near where it came to rest")
    max_speed_kmh: float = Field(default=3.0, gt=0.0, le=200.0,
                                 description="A still object's steady drift stays below this speed")

    @model_validator(mode="after")
    def _one_form(self) -> GroundPlane:
        points = self.image is not None or self.metres is not None
        if points == (self.homography is not None):
            raise ValueError("give either image and metres (four points each) or homography")
        if points and (self.image is None or self.metres is None):
            raise ValueError("image and metres go together: four image points and where they lie in metres")
        for i, (x, y) in enumerate(self.image or []):
            if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
                raise ValueError(f"image point {i} ({x}, {y}) is outside 0..1: coordinates are normalized")
        if self.homography is not None and any(len(row) != 3 for row in self.homography):
            raise ValueError("homography: three rows of three numbers")
        matrix = self.matrix()
        if not np.all(np.isfinite(matrix)) or abs(np.linalg.det(matrix)) < 1e-12:
            raise ValueError("the homography is singular: the points do not span a plane")
        return self

    def matrix(self) -> np.ndarray:
        """The homography taking normalized image x,y to ground metres."""
        if self.homography is not None:
            return np.asarray(self.homography, np.float64)
        assert self.image is not None and self.metres is not None
        return homography_from_points(self.image, self.metres)


class ZoneConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Identifier
    kind: ViolationKind
    polygon: list[tuple[float, float]] = Field(
        min_length=3, max_length=MAX_ZONE_POINTS,
        description="Normalized x,y in 0..1 of the frame, in order around the zone",
    )
    classes: list[ClassName] = Field(min_length=1, max_length=32)
    dwell_s: float = Field(gt=0.0, le=86400.0)
    clear_s: float = Field(default=30.0, gt=0.0, le=86400.0)
    realert_s: float | None = Field(
        default=None, gt=0.0, le=7 * 86400.0,
        description="While a violation stays uncleared, an `updated` event (longer dwell, a fresh snapshot) this "
        "often; unset: only opened and cleared",
    )
    micro_grid: Identifier | None = Field(
        default=None, description="Whose zone it is; or leave it out and give location (the dispatcher locates it)"
    )
    location: GeoPoint | None = Field(default=None, description="The zone's place on the map (lon, lat)")
    place: str | None = Field(default=None, min_length=1, max_length=40,
                              description="The place as people name it (东街3号), for the evidence captions")
    shop_id: Identifier | None = Field(default=None, description="For a shop front: the shop it belongs to")
    min_confidence: float = Field(default=0.25, ge=0.0, le=1.0)
    min_box_px: float = Field(default=0.0, ge=0.0, le=100_000.0,
                              description="Smaller boxes (width or height) are ignored")
    active: list[ActiveWindow] | None = Field(
        default=None, max_length=32, description="When the zone is enforced (edge local time); always when unset"
    )
    anchor: Literal["bottom_center", "center"] = Field(
        default="bottom_center",
        description="Which point of a box must lie in the zone: the ground point or the centre",
    )
    ridable: list[ClassName] = Field(
        default_factory=lambda: ["bicycle", "motorcycle"], max_length=32,
        description="Classes that count only while nobody rides them: a bike with a rider on it (stopped at a "
        "light, waiting for a friend) is not parked. Add a custom model's e-bike class here; [] turns it off",
    )
    riders: list[ClassName] = Field(default_factory=lambda: ["person"], max_length=32,
                                    description="Classes that ride the ridable ones")
    ground: GroundPlane | None = Field(
        default=None,
        description="The camera's ground plane here, where it is calibrated: stillness in metres per second",
    )
    door_line: tuple[tuple[float, float], tuple[float, float]] | None = Field(
        default=None,
        description="A shop front's door line (cross_door_trading only): two normalized points along the strip's "
        "shop side. Only what stands on the strip's side of it counts: goods inside the shop, seen through an "
        "open door, do not",
    )

    @field_validator("polygon")
    @classmethod
    def _polygon(cls, points: list[tuple[float, float]]) -> list[tuple[float, float]]:
        for i, (x, y) in enumerate(points):
            if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
                raise ValueError(f"point {i} ({x}, {y}) is outside 0..1: coordinates are normalized")
        shape = Polygon(points)
        if not shape.is_valid or shape.area <= 0.0:
            raise ValueError("polygon must not cross itself and must enclose an area")
        return points

    @field_validator("door_line")
    @classmethod
    def _door_line(cls, line: tuple[tuple[float, float], tuple[float, float]] | None) -> object:
        if line is None:
            return None
        for i, (x, y) in enumerate(line):
            if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
                raise ValueError(f"point {i} ({x}, {y}) is outside 0..1: coordinates are normalized")
        if LineString(line).length < DOOR_LINE_MIN:
            raise ValueError(f"the door line's two points must be at least {DOOR_LINE_MIN} apart")
        return line

    @model_validator(mode="after")
    def _placed(self) -> ZoneConfig:
        if self.micro_grid is None and self.location is None and self.shop_id is None:
            raise ValueError("a zone needs micro_grid, location or shop_id (so the dispatcher finds whose it is)")
        return self

    @model_validator(mode="after")
    def _door_on_the_strip(self) -> ZoneConfig:
        if self.door_line is None:
            return self
        if self.kind is not ViolationKind.cross_door_trading:
            raise ValueError("door_line: only a cross_door_trading zone (a shop front) has a door line")
        edge = Polygon(self.polygon).exterior
        far = [i for i, point in enumerate(self.door_line) if edge.distance(Point(point)) > DOOR_SNAP]
        if far:
            raise ValueError(f"door_line: point {far[0]} is not on the strip's border (more than {DOOR_SNAP} away): "
                             "draw the door line along the strip's shop side")
        return self


_ZONE_LIST = TypeAdapter(Annotated[list[ZoneConfig], Field(max_length=MAX_ZONES)])


def validate_zones(data: object) -> list[ZoneConfig]:
    """A camera's zones from plain data (``pydantic.ValidationError`` naming the bad key, or
    ``ValueError`` for a repeated zone id)."""
    zones = _ZONE_LIST.validate_python(data)
    require_unique_ids("zone", [z.id for z in zones])
    return zones
