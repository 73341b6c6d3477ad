"""Routing: the responsible people for a violation, from the zone's micro-grid."""

from __future__ import annotations

from dataclasses import dataclass

from dispatcher.grid import Grid


@dataclass(frozen=True)
class Route:
    worker_id: str | None
    leader_id: str | None
    note: str


def route(grid: Grid, micro_grid: str) -> Route:
    cell = grid.micro_grid(micro_grid)
    if cell is None:
        return Route(None, None, f"micro-grid {micro_grid!r} is not in the grid file: dispatch by hand")
    return Route(cell.worker, cell.leader, f"micro-grid {cell.id} ({cell.name})")
