"""The grid file: who is responsible for each micro-grid (worker, stand-in, leader), who is
on duty when (rosters), who is away (leave), and the line department of each kind."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contract import ViolationKind
from contract.configfile import TimeZoneName, WeeklyWindow, load_config

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
    people: list[Person] = Field(min_length=1)
    micro_grids: list[MicroGrid] = Field(min_length=1)
    departments: dict[ViolationKind, Identifier] = Field(
        default_factory=dict, description="The line department (a person id) that takes each kind when escalated"
    )
    timezone: TimeZoneName = "Asia/Shanghai"
    rosters: list[Shift] = Field(default_factory=list)
    leave: list[Leave] = Field(default_factory=list)

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
        for kind, pid in self.departments.items():
            if pid not in people or people[pid].role != "department":
                raise ValueError(f"departments.{kind.value}: {pid!r} is not a person with role department")
        return self

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
    return load_config(Grid, path)
