"""The grid file: who is responsible for each micro-grid (worker, stand-in, leader), who is
on duty when (rosters), who is away (leave), and the line department of each kind."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from contract import ViolationKind
from contract.configfile import ConfigError, TimeZoneName, WeeklyWindow, load_config
from dispatcher.areas import AreasError, GridAreas

Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]


ChannelType = Literal["webpush", "wecom_app", "dingtalk_app", "robot", "sms", "webhook"]


class ChannelRef(BaseModel):
    """One way to reach a person. ``webpush``: the phones they subscribed; ``wecom_app`` and
    ``dingtalk_app``: an app message to ``user_id`` (the town's app in the dispatcher config);
    ``robot``: a group robot named in the dispatcher config (WeCom, DingTalk or Feishu),
    mentioning the person's phone; ``sms``: a text to ``phone`` (default: the person's);
    ``webhook``: a named webhook of the dispatcher config."""

    model_config = ConfigDict(extra="forbid")

    type: ChannelType
    user_id: str | None = Field(default=None, min_length=1, max_length=64)
    name: str | None = Field(default=None, min_length=1, max_length=64, description="robot or webhook name")
    phone: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: object) -> object:
        return {"type": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _needs(self) -> ChannelRef:
        if self.type in ("wecom_app", "dingtalk_app") and not self.user_id:
            raise ValueError(f"a {self.type} channel needs user_id (the person's id in that app)")
        if self.type in ("robot", "webhook") and not self.name:
            raise ValueError(f"a {self.type} channel needs name (one of the dispatcher config's {self.type}s)")
        return self

    def address(self, person: Person) -> str:
        """What the audit trail shows as the destination."""
        if self.type == "sms":
            return f"sms:{self.phone or person.phone}"
        return f"{self.type}:{self.user_id or self.name or person.id}"


class Person(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Identifier
    name: str = Field(min_length=1)
    role: Literal["worker", "leader", "department", "dispatcher", "admin"]
    phone: str | None = None
    channels: list[ChannelRef] = Field(
        default_factory=lambda: [ChannelRef(type="webpush")],
        description="Tried in this order until one confirms delivery",
    )

    @model_validator(mode="after")
    def _sms_phone(self) -> Person:
        for i, channel in enumerate(self.channels):
            if channel.type == "sms" and not (channel.phone or self.phone):
                raise ValueError(f"channels[{i}]: sms needs a phone (on the channel or the person)")
        return self


class MicroGrid(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Identifier
    name: str = Field(min_length=1)
    community: str | None = None
    worker: Identifier
    stand_in: Identifier | None = Field(default=None, description="Takes the cases while the worker is away")
    leader: Identifier


class Community(BaseModel):
    """A community or village: the level between the town and its micro-grids."""

    model_config = ConfigDict(extra="forbid")

    id: Identifier
    name: str = Field(min_length=1)


class Shop(BaseModel):
    """A shop whose front a camera zone watches (the zone's ``shop_id``), and who answers for it."""

    model_config = ConfigDict(extra="forbid")

    id: Identifier
    name: str = Field(min_length=1)
    owner: str = Field(min_length=1)
    phone: str | None = None
    micro_grid: Identifier | None = Field(default=None, description="Where the shop is, if not by location")


class Shift(WeeklyWindow):
    """``person`` is on duty for ``micro_grid`` on ``days`` from ``start`` to ``end`` (local time)."""

    micro_grid: Identifier
    person: Identifier


class Leave(BaseModel):
    model_config = ConfigDict(extra="forbid")

    person: Identifier
    first_day: date
    last_day: date


class Grid(BaseModel):
    model_config = ConfigDict(extra="forbid")

    town: str = Field(min_length=1)
    communities: list[Community] = Field(default_factory=list)
    people: list[Person] = Field(min_length=1)
    micro_grids: list[MicroGrid] = Field(min_length=1)
    departments: dict[ViolationKind, Identifier] = Field(
        default_factory=dict, description="The line department (a person id) that takes each kind when escalated"
    )
    timezone: TimeZoneName = "Asia/Shanghai"
    rosters: list[Shift] = Field(default_factory=list)
    leave: list[Leave] = Field(default_factory=list)
    shops: list[Shop] = Field(default_factory=list)
    areas_file: str | None = Field(
        default=None, description="GeoJSON of the communities' and micro-grids' areas (relative to this file)"
    )
    _areas: GridAreas | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _references(self) -> Grid:
        people = {p.id: p for p in self.people}
        if len(people) != len(self.people):
            raise ValueError("a person id appears twice")
        if len({g.id for g in self.micro_grids}) != len(self.micro_grids):
            raise ValueError("a micro-grid id appears twice")
        grids = {g.id for g in self.micro_grids}
        for g in self.micro_grids:
            for field, role in (("worker", "worker"), ("stand_in", "worker"), ("leader", "leader")):
                pid = getattr(g, field)
                if pid is None:
                    continue
                if pid not in people:
                    raise ValueError(f"micro-grid {g.id}: {field} {pid!r} is not in people")
                if people[pid].role != role:
                    raise ValueError(f"micro-grid {g.id}: {field} {pid!r} has role {people[pid].role}")
        for i, shift in enumerate(self.rosters):
            if shift.micro_grid not in grids:
                raise ValueError(f"rosters[{i}]: micro-grid {shift.micro_grid!r} is not in micro_grids")
            if shift.person not in people or people[shift.person].role != "worker":
                raise ValueError(f"rosters[{i}]: {shift.person!r} is not a person with role worker")
        for i, away in enumerate(self.leave):
            if away.person not in people:
                raise ValueError(f"leave[{i}]: {away.person!r} is not in people")
        communities = {c.id for c in self.communities}
        if len(communities) != len(self.communities):
            raise ValueError("a community id appears twice")
        for g in self.micro_grids:
            if communities and g.community not in communities:
                raise ValueError(f"micro-grid {g.id}: community {g.community!r} is not in communities")
        if len({s.id for s in self.shops}) != len(self.shops):
            raise ValueError("a shop id appears twice")
        for shop in self.shops:
            if shop.micro_grid is not None and shop.micro_grid not in grids:
                raise ValueError(f"shop {shop.id}: micro-grid {shop.micro_grid!r} is not in micro_grids")
        for kind, pid in self.departments.items():
            if pid not in people or people[pid].role != "department":
                raise ValueError(f"departments.{kind.value}: {pid!r} is not a person with role department")
        return self

    @property
    def areas(self) -> GridAreas | None:
        return self._areas

    def with_areas(self, areas: GridAreas | None) -> Grid:
        self._areas = areas
        return self

    def locate(self, lon: float, lat: float) -> str | None:
        """The micro-grid whose area holds the point, if the grid has areas and one does."""
        return self._areas.locate(lon, lat) if self._areas else None

    def shop(self, shop_id: str) -> Shop | None:
        return next((s for s in self.shops if s.id == shop_id), None)

    def micro_grid(self, grid_id: str) -> MicroGrid | None:
        return next((g for g in self.micro_grids if g.id == grid_id), None)

    def person(self, person_id: str) -> Person | None:
        return next((p for p in self.people if p.id == person_id), None)

    def local(self, at: datetime) -> datetime:
        return at.astimezone(ZoneInfo(self.timezone))

    def away(self, person_id: str, at: datetime) -> bool:
        day = self.local(at).date()
        return any(a.person == person_id and a.first_day <= day <= a.last_day for a in self.leave)

    def on_duty(self, micro_grid: str, at: datetime) -> list[str]:
        """The people rostered on ``micro_grid`` at ``at`` who are not on leave, in roster order."""
        local = self.local(at)
        return [s.person for s in self.rosters
                if s.micro_grid == micro_grid and s.covers(local) and not self.away(s.person, at)]


def load_grid(path: str | Path) -> Grid:
    """The grid file and, when it names one, its GeoJSON areas file (errors name either file)."""
    grid = load_config(Grid, path)
    if grid.areas_file is None:
        return grid
    areas_path = Path(path).parent / grid.areas_file
    try:
        areas = GridAreas.load(areas_path, {c.id for c in grid.communities}, {g.id for g in grid.micro_grids})
    except AreasError as exc:
        raise ConfigError(f"{areas_path}: {exc}") from None
    return grid.with_areas(areas)
