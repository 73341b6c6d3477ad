"""Notices when the edge's config file changes (the console's zone editor saves zones into
the town's config) and hands the new, validated config on; a broken edit is reported and
changes nothing."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from contract.configfile import ConfigError
from edge.config import EdgeConfig, load_edge_config

log = logging.getLogger(__name__)


class ConfigWatcher:
    def __init__(self, path: Path, edge_id: str, on_change: Callable[[EdgeConfig], None],
                 interval_s: float = 5.0, on_error: Callable[[str], None] | None = None) -> None:
        self.path = path
        self.edge_id = edge_id
        self.on_change = on_change
        self.on_error = on_error or (lambda message: log.error("%s", message))
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._seen = self._stamp()
        self._thread = threading.Thread(target=self._run, name="config-watch", daemon=True)

    def _stamp(self) -> tuple[int, int] | None:
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def check(self) -> bool:
        """Look once; True when a changed, valid config was handed on."""
        stamp = self._stamp()
        if stamp is None or stamp == self._seen:
            return False
        self._seen = stamp
        try:
            config = load_edge_config(self.path).for_box(self.edge_id)
        except (ConfigError, ValueError) as exc:
            self.on_error(f"{self.path} changed but was not applied: {exc}")
            return False
        self.on_change(config)
        return True

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.check()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
