"""Routing: who answers for a violation now, from the zone's micro-grid and the rosters.

The rostered worker on duty takes it; outside any shift, the micro-grid's own worker; when
that worker is on leave, the micro-grid's stand-in; when nobody is available, the leader.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dispatcher.db import now
from dispatcher.grid import Grid


@dataclass(frozen=True)
class Route:
    worker_id: str | None
    leader_id: str | None
    note: str


def route(grid: Grid, micro_grid: str, at: datetime | None = None) -> Route:
    cell = grid.micro_grid(micro_grid)
    if cell is None:
        return Route(None, None, f"micro-grid {micro_grid!r} is not in the grid file: dispatch by hand")
    at = at or now()
    where = f"micro-grid {cell.id} ({cell.name})"
    on_duty = grid.on_duty(cell.id, at)
    if on_duty:
        return Route(on_duty[0], cell.leader, f"{where}: {on_duty[0]} on duty")
    if not grid.away(cell.worker, at):
        return Route(cell.worker, cell.leader, where)
    if cell.stand_in and not grid.away(cell.stand_in, at):
        return Route(cell.stand_in, cell.leader, f"{where}: {cell.worker} on leave, stand-in {cell.stand_in}")
    return Route(cell.leader, cell.leader, f"{where}: no worker available, to the leader")
