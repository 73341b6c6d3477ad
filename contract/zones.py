"""A camera's zones: where and when a violation counts. Shared by the edge, which enforces
them, and the dispatcher's zone editor, which saves them back to the town's edge config."""

from __future__ import annotations

from typing import Annotated, Literal

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
