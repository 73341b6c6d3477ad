"""How much evidence an edge box keeps (shared by its config and its evidence store)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Retention:
    """How much evidence a box keeps: nothing older than ``max_age_s``, at most ``max_bytes``
    in all, and at least ``min_free_bytes`` left free on the disk. Oldest goes first."""

    max_age_s: float | None = 30 * 86400.0
    max_bytes: int | None = None
    min_free_bytes: int = 0
