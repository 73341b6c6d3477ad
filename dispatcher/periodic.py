"""A background job that runs every few seconds and survives its own failures."""

from __future__ import annotations

import logging
import threading

from sqlalchemy.exc import OperationalError

log = logging.getLogger(__name__)


class PeriodicWorker:
    """Calls :meth:`tick` every ``interval_s`` in a daemon thread until :meth:`stop`. A
    database outage or any other error is logged and the next tick tries again."""

    def __init__(self, name: str, interval_s: float) -> None:
        self.name = name
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def tick(self) -> object:
        raise NotImplementedError

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.tick()
            except OperationalError as exc:
                log.error("%s: database unavailable (%s); trying again", self.name, exc.orig)
            except Exception:
                log.exception("%s failed; trying again", self.name)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)
