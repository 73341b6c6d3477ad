"""The grid file: who is responsible for each micro-grid (worker and leader)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contract import ViolationKind
from contract.configfile import load_config

Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]


class Person(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Identifier
    name: str = Field(min_length=1)
    role: Literal["worker", "leader", "department", "dispatcher"]
    phone: str | None = None


class MicroGrid(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Identifier
    name: str = Field(min_length=1)
    community: str | None = None
    worker: Identifier
    leader: Identifier


class Grid(BaseModel):
    model_config = ConfigDict(extra="forbid")

    town: str = Field(min_length=1)
    people: list[Person] = Field(min_length=1)
    micro_grids: list[MicroGrid] = Field(min_length=1)
    departments: dict[ViolationKind, Identifier] = Field(
        default_factory=dict, description="The line department (a person id) that takes each kind when escalated"
    )

    @model_validator(mode="after")
    def _references(self) -> Grid:
        people = {p.id: p for p in self.people}
        if len(people) != len(self.people):
            raise ValueError("a person id appears twice")
        if len({g.id for g in self.micro_grids}) != len(self.micro_grids):
            raise ValueError("a micro-grid id appears twice")
        for g in self.micro_grids:
            for field, role in (("worker", "worker"), ("leader", "leader")):
                pid = getattr(g, field)
                if pid not in people:
                    raise ValueError(f"micro-grid {g.id}: {field} {pid!r} is not in people")
                if people[pid].role != role:
                    raise ValueError(f"micro-grid {g.id}: {field} {pid!r} has role {people[pid].role}")
        for kind, pid in self.departments.items():
            if pid not in people or people[pid].role != "department":
                raise ValueError(f"departments.{kind.value}: {pid!r} is not a person with role department")
        return self

    def micro_grid(self, grid_id: str) -> MicroGrid | None:
        return next((g for g in self.micro_grids if g.id == grid_id), None)

    def person(self, person_id: str) -> Person | None:
        return next((p for p in self.people if p.id == person_id), None)


def load_grid(path: str | Path) -> Grid:
    return load_config(Grid, path)
