"""Routing: who answers for a violation now, from the zone's micro-grid and the rosters.

The rostered worker on duty takes it; outside any shift, the micro-grid's own worker; when
that worker is on leave, the micro-grid's stand-in; when nobody is available, the leader.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dispatcher.db import now
from dispatcher.grid import Grid
from i18n import Msg


@dataclass(frozen=True)
class Route:
    worker_id: str | None
    leader_id: str | None
    note: str


def route(grid: Grid, micro_grid: str, at: datetime | None = None) -> Route:
    cell = grid.micro_grid(micro_grid)
    if cell is None:
        return Route(None, None, Msg("micro-grid {grid} is not in the grid file: dispatch by hand",
                                     grid=repr(micro_grid)))
    at = at or now()
    where = {"grid": cell.id, "name": cell.name}
    on_duty = grid.on_duty(cell.id, at)
    if on_duty:
        return Route(on_duty[0], cell.leader, Msg("micro-grid {grid} ({name}): {person} on duty", person=on_duty[0],
                                                  **where))
    if not grid.away(cell.worker, at):
        return Route(cell.worker, cell.leader, Msg("micro-grid {grid} ({name})", **where))
    if cell.stand_in and not grid.away(cell.stand_in, at):
        on_leave = Msg("micro-grid {grid} ({name}): {person} on leave, stand-in {stand_in}", person=cell.worker,
                       stand_in=cell.stand_in, **where)
        return Route(cell.stand_in, cell.leader, on_leave)
    return Route(cell.leader, cell.leader, Msg("micro-grid {grid} ({name}): no worker available, to the leader",
                                               **where))
