"""A durable on-disk queue of messages waiting for the broker (SQLite, WAL).

Every event is written here before anything is sent, and removed only once the broker has
acknowledged it (QoS 1 PUBACK), so a broker outage or an edge restart loses nothing and
keeps the order in which events were decided. Beside it, the images whose upload is owed:
an event whose evidence store was down went out without waiting, and its images follow
(``defer_uploads``, ``owed_uploads``, ``uploaded``).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


class OutboxError(OSError):
    """The outbox file cannot be opened or written (disk full, permissions, ...)."""


@dataclass(frozen=True)
class OutboxItem:
    seq: int
    topic: str
    payload: bytes
    evidence_path: str | None  # the event's images, one path a line (snapshot first)
    attempts: int
    created_at: float = 0.0  # when the event was decided (epoch seconds)

    @property
    def evidence_paths(self) -> list[str]:
        return self.evidence_path.splitlines() if self.evidence_path else []


class Outbox:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS outbox ("
                " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
                " topic TEXT NOT NULL, payload BLOB NOT NULL, evidence_path TEXT,"
                " created_at REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT)"
            )
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS owed_uploads ("
                " path TEXT PRIMARY KEY, owed_since REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
                " last_error TEXT)"
            )
        except (sqlite3.Error, OSError) as exc:
            raise OutboxError(f"cannot open outbox {self.path}: {exc}") from None
        self._lock = threading.Lock()
        self._added = threading.Condition(self._lock)

    def put(self, topic: str, payload: bytes, evidence: str | Sequence[str] | None = None) -> int:
        """Queue a message with the paths of its images (uploaded before it is published)."""
        paths = [evidence] if isinstance(evidence, str) else list(evidence or [])
        evidence_path = "\n".join(paths) or None
        with self._added:
            try:
                cur = self._db.execute(
                    "INSERT INTO outbox (topic, payload, evidence_path, created_at) VALUES (?, ?, ?, ?)",
                    (topic, payload, evidence_path, time.time()),
                )
            except sqlite3.Error as exc:
                raise OutboxError(f"cannot write to outbox {self.path}: {exc}") from None
            self._added.notify_all()
            return int(cur.lastrowid or 0)

    def peek(self, limit: int = 100) -> list[OutboxItem]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, topic, payload, evidence_path, attempts, created_at FROM outbox ORDER BY seq LIMIT ?",
                (limit,),
            ).fetchall()
        return [OutboxItem(r[0], r[1], bytes(r[2]), r[3], r[4], r[5]) for r in rows]

    def defer_uploads(self, paths: Sequence[str]) -> None:
        """Images whose event goes out now without them: uploaded later, kept until then."""
        with self._lock:
            self._db.executemany("INSERT OR IGNORE INTO owed_uploads (path, owed_since) VALUES (?, ?)",
                                 [(path, time.time()) for path in paths])

    def owed_uploads(self, limit: int = 100) -> list[str]:
        with self._lock:
            rows = self._db.execute("SELECT path FROM owed_uploads ORDER BY owed_since LIMIT ?", (limit,)).fetchall()
        return [r[0] for r in rows]

    def upload_failed(self, path: str, error: str) -> None:
        with self._lock:
            self._db.execute("UPDATE owed_uploads SET attempts = attempts + 1, last_error = ? WHERE path = ?",
                             (error[:500], path))

    def uploaded(self, path: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM owed_uploads WHERE path = ?", (path,))

    def owed_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM owed_uploads").fetchone()[0])

    def ack(self, *seqs: int) -> None:
        """Forget items the broker acknowledged: several in one transaction (one disk sync)."""
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("DELETE FROM outbox WHERE seq = ?", [(seq,) for seq in seqs])
            self._db.execute("COMMIT")

    def failed(self, seq: int, error: str) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE seq = ?", (error[:500], seq)
            )

    def pending_evidence(self) -> set[str]:
        """Evidence files of events not yet published, and images owed to the store: none of
        them may be pruned."""
        with self._lock:
            rows = self._db.execute("SELECT evidence_path FROM outbox WHERE evidence_path IS NOT NULL").fetchall()
            owed = self._db.execute("SELECT path FROM owed_uploads").fetchall()
        return {path for (joined,) in rows for path in joined.splitlines()} | {path for (path,) in owed}

    def depth(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def wait(self, timeout_s: float) -> None:
        """Block until something is added or ``timeout_s`` passes."""
        with self._added:
            self._added.wait(timeout_s)

    def close(self) -> None:
        with self._lock:
            self._db.close()
