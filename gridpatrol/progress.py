"""Progress where work is long (replays, benchmarks, stream probes): a bar with an estimate of
the time left, drawn by tqdm on standard error, and nothing at all when standard error is not a
terminal (a log, a pipe, CI), so that what a program prints stays its own."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")


def on_terminal() -> bool:
    return sys.stderr.isatty()


class Progress:
    """A bar to ``total`` in ``unit`` (media seconds, runs, cameras), moved with :meth:`to`."""

    def __init__(self, total: float | None, unit: str, desc: str) -> None:
        self.bar = tqdm(total=total, unit=unit, desc=desc, disable=not on_terminal(), leave=False)

    def to(self, value: float) -> None:
        """The work is done up to ``value`` (never backwards)."""
        if value > self.bar.n:
            self.bar.update(value - self.bar.n)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.close()


def counted(items: Iterable[T], total: int, unit: str, desc: str) -> Iterator[T]:
    """``items`` as they come, with a bar counting them."""
    with Progress(total, unit, desc) as progress:
        for done, item in enumerate(items, start=1):
            yield item
            progress.to(done)


__all__ = ["Progress", "counted", "on_terminal"]
