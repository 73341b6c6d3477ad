"""``gridpatrol doctor --config FILE``: is this edge box, or this dispatcher, ready?

The config's own keys say which it is (``--kind`` overrides). The checks run in order, one
line each, with what to do when one fails (:mod:`gridpatrol.doctor.edge`,
:mod:`gridpatrol.doctor.dispatcher`); a check that cannot run for an earlier failure is
skipped. The exit code is 1 when any check failed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

import yaml

from gridpatrol.doctor import dispatcher, edge
from gridpatrol.doctor.checks import Result
from i18n import Msg, Translator

Kind = Literal["auto", "edge", "dispatcher"]
EDGE_KEYS = {"edge_id", "cameras", "model"}
DISPATCHER_KEYS = {"database_url", "grid_file", "data_dir", "ingest", "channels", "http", "escalation"}


def config_kind(path: Path) -> Literal["edge", "dispatcher"] | None:
    """``edge`` or ``dispatcher`` by the keys at the file's top; None when it cannot be told."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return "edge"  # the edge's loader names what is wrong with the file
    keys = set(data) if isinstance(data, dict) else set()
    if keys & EDGE_KEYS:
        return "edge"
    if keys & DISPATCHER_KEYS:
        return "dispatcher"
    return None


def run_checks(path: Path, kind: Kind = "auto") -> Iterator[Result]:
    found = config_kind(path) if kind == "auto" else kind
    if found is None:
        yield Result(False, Msg("config"), Msg("{path} is neither an edge config (edge_id, cameras, model) nor a "
                                               "dispatcher config (database_url, grid_file, ...)", path=str(path)),
                     Msg("name the file of an edge box or a dispatcher, or say which with --kind"))
        return
    yield from (edge if found == "edge" else dispatcher).run_checks(path)


def report(path: Path, words: Translator, write: Callable[[str], None] = print, kind: Kind = "auto") -> int:
    """Runs the checks and writes a line for each (and what to do for a failure); 1 if any failed."""
    failed = False
    marks = {True: "✓", False: "✗", None: "–"}
    for result in run_checks(path, kind):
        failed |= result.ok is False
        write(f"{marks[result.ok]} {words.msg(result.name)}: {words.msg(result.detail)}")
        if result.ok is not True and result.hint:  # what to do for a failure, or worth knowing
            write(f"    → {words.msg(result.hint)}")
    return 1 if failed else 0


__all__ = ["Result", "config_kind", "report", "run_checks"]
