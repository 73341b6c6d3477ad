"""What the dispatcher benchmarks share: a fresh PostgreSQL database, a real Mosquitto on a
free port (with persistence, so it can be stopped and started again) and dispatcher
processes (`gridpatrol dispatcher serve`) on an MQTT v5 shared subscription when more than one.

GRIDPATROL_TEST_PG points at the PostgreSQL server (default: the local one, as user postgres).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gridpatrol.broker import LocalBroker, free_port, wait_port  # noqa: E402

ADMIN = os.environ.get("GRIDPATROL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


class BenchTown:
    """Database, broker and ``dispatchers`` dispatcher processes, for one ``with`` block."""

    def __init__(self, dispatchers: int = 1) -> None:
        self.dispatchers = dispatchers
        self.db = f"gridpatrol_bench_{uuid.uuid4().hex[:8]}"
        self.pg_url = ADMIN.rsplit("/", 1)[0] + f"/{self.db}"
        self.work = Path(tempfile.mkdtemp(prefix="gridpatrol-bench-"))
        self.broker = LocalBroker(persistence_dir=self.work / "broker")
        self.servers: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> BenchTown:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.db}"')
        self.broker.start()
        db_url = self.pg_url.replace("postgresql://", "postgresql+psycopg://", 1)
        ports = []
        for n in range(self.dispatchers):
            ports.append(free_port())
            config = {
                "database_url": db_url, "data_dir": str(self.work / f"dispatcher-{n}"),
                "grid_file": str(ROOT / "configs/grid.yaml"),
                "mqtt": {"url": self.broker.url, "client_id": f"gridpatrol-dispatcher-{n}"},
                "ingest": {"shared_group": "dispatchers"} if self.dispatchers > 1 else {},
                "http": {"host": "127.0.0.1", "port": ports[-1]},
            }
            (self.work / f"dispatcher-{n}.yaml").write_text(yaml.safe_dump(config))
            self.servers.append(subprocess.Popen(
                [sys.executable, "-m", "gridpatrol.cli", "--log-level", "WARNING", "dispatcher", "serve",
                 "--config", str(self.work / f"dispatcher-{n}.yaml")], cwd=ROOT))
        if not all(wait_port(p, 30) for p in ports):
            self.__exit__(None, None, None)
            raise RuntimeError("a dispatcher did not start")
        time.sleep(1.0)  # let them subscribe
        return self

    def __exit__(self, *exc: object) -> None:
        for server in self.servers:
            server.terminate()
            server.wait(15)
        self.broker.stop()
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')

    def count(self, table: str) -> int:
        with psycopg.connect(self.pg_url) as conn:
            return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]

    def notify_latencies(self, since: float = 0.0) -> list[float]:
        """Seconds from each opened event's observed_at (set when the edge queued it) to its
        case's first notification stored, for events observed after ``since`` (epoch)."""
        with psycopg.connect(self.pg_url) as conn:
            rows = conn.execute(
                "SELECT EXTRACT(EPOCH FROM min(n.created_at) - e.observed_at) FROM notifications n "
                "JOIN cases c ON c.id = n.case_id JOIN events e ON e.case_id = c.id AND e.state = 'opened' "
                "WHERE EXTRACT(EPOCH FROM e.observed_at) >= %s GROUP BY e.event_id, e.observed_at", (since,))
            return sorted(float(r[0]) for r in rows)


def percentiles(values: list[float]) -> str:
    if not values:
        return "none"
    ordered = sorted(values)
    p99 = ordered[max(0, int(len(ordered) * 0.99) - 1)]
    return (f"p50 {statistics.median(ordered) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
            f"max {ordered[-1] * 1000:.0f} ms")
