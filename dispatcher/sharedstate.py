"""What every dispatcher behind one URL must share, kept in the database they share: the
secrets (the VAPID key pair phones subscribed with, the link secret evidence links are signed
with) and the channels' sending rates, so that N dispatchers behave as one. Login failures are
counted there already (dispatcher/auth.py).

A secret is made by whichever dispatcher needs it first (an insert that a second one loses
harmlessly: the name is the primary key) and read by every one. A dispatcher upgraded from
one that kept the secret in its ``data_dir`` file seeds the database with that file's value,
so phones already subscribed keep working.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from dispatcher.channels.base import RateLimiter
from dispatcher.db import RateBucketRow, SharedSecretRow


def shared_secret(sessions: sessionmaker, name: str, make: Callable[[], str], seed_file: Path | None = None) -> str:
    """The value every dispatcher holds for ``name``: the stored one, else ``seed_file``'s
    content (an older dispatcher's), else ``make()``; stored by the first to ask."""
    with sessions() as session:
        found = session.get(SharedSecretRow, name)
        if found is not None:
            return found.value
        value = seed_file.read_text().strip() if seed_file is not None and seed_file.is_file() else make()
        session.add(SharedSecretRow(name=name, value=value))
        try:
            session.commit()
            return value
        except IntegrityError:  # another dispatcher stored it first: theirs it is
            session.rollback()
    with sessions() as session:
        stored = session.get(SharedSecretRow, name)
        assert stored is not None
        return stored.value


class SharedRateLimiter(RateLimiter):
    """The channels' token buckets in the database: every dispatcher takes from the same
    bucket, so a robot's 20 messages a minute are 20 for the town, not 20 per dispatcher. A
    bucket's row is locked while a token is taken (``SELECT ... FOR UPDATE`` on PostgreSQL;
    SQLite's write lock serialises the same)."""

    def __init__(self, sessions: sessionmaker, clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock)
        self.sessions = sessions

    def wait_time(self, key: str, per_minute: int) -> float:
        for _ in range(3):  # two dispatchers creating one bucket at once: the loser reads the winner's
            try:
                return self._take(key[:160], per_minute)
            except IntegrityError:
                continue
        return 60.0 / per_minute

    def _take(self, key: str, per_minute: int) -> float:
        rate = per_minute / 60.0
        with self.sessions() as session, session.begin():
            at = self.clock()
            row = session.scalars(select(RateBucketRow).where(RateBucketRow.key == key).with_for_update()).first()
            if row is None:
                session.add(RateBucketRow(key=key, tokens=float(per_minute) - 1.0, updated_at=at))
                return 0.0
            tokens = min(float(per_minute), row.tokens + max(0.0, at - row.updated_at) * rate)
            row.updated_at = at
            if tokens >= 1.0:
                row.tokens = tokens - 1.0
                return 0.0
            row.tokens = tokens
            return (1.0 - tokens) / rate


__all__ = ["SharedRateLimiter", "shared_secret"]
