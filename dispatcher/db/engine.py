"""Engines and sessions: SQLite or PostgreSQL, migrated by Alembic when opened; bulk inserts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    create_engine,
    event,
    insert,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from dispatcher.db.base import Base


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    # No server-side prepared statements: psycopg prepares a query after its fifth run, and
    # PostgreSQL's generic plan for "camera_id IN ($1 .. $500)" then matches every row against
    # the list one by one (a plan with the values hashes them): 270 ms instead of 25 ms per
    # ingest batch in bench/dispatch_throughput.py.
    # A database that does not answer is an error within seconds (health checks, requests), not a hang.
    return create_engine(url, pool_pre_ping=True, connect_args={"prepare_threshold": None, "connect_timeout": 5})


def insert_rows(session: Session, model: type[Base], rows: list[dict[str, Any]], ids: bool = False) -> list[int]:
    """Insert many rows of one table in the session's transaction; with ``ids``, returns the
    new rows' ids in order. On PostgreSQL through COPY (ids drawn from the table's sequence
    first): the multi-row INSERT ... RETURNING that SQLAlchemy builds spent most of its time in
    the driver parsing one huge statement per batch. Every row must carry the same keys."""
    if not rows:
        return []
    table = model.__table__
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        if ids:
            statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
            return list(connection.execute(statement, rows).scalars())
        connection.execute(insert(table), rows)
        return []
    new_ids: list[int] = []
    if ids:
        new_ids = list(connection.execute(
            text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"),
            {"table": table.name, "n": len(rows)}).scalars())
        rows = [{**row, "id": new_id} for row, new_id in zip(rows, new_ids, strict=True)]
    columns = [c for c in table.columns if c.name in rows[0]]
    as_json = {c.name for c in columns if isinstance(c.type, JSON)}
    names = ", ".join(c.name for c in columns)
    raw = connection.connection.driver_connection
    from psycopg import errors as pg_errors

    try:
        with raw.cursor() as cursor, cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([json.dumps(row[c.name]) if c.name in as_json and row[c.name] is not None
                                else row[c.name] for c in columns])
    except pg_errors.IntegrityError as exc:
        # As the INSERT path raises it: a row another dispatcher stored meanwhile (the same
        # violation's events on two dispatchers of a shared subscription) is handled alike.
        raise IntegrityError(f"COPY {table.name}", None, exc) from exc
    return new_ids


MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"
_MIGRATION_LOCK = 727_011  # any constant: the advisory lock id that serialises migrations


def alembic_config() -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (Alembic). Dispatchers starting together on
    PostgreSQL take turns through an advisory lock; SQLite's write lock does the same."""
    from alembic import command

    config = alembic_config()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def make_sessions(engine: Engine) -> sessionmaker:
    migrate(engine)
    return sessionmaker(engine, expire_on_commit=False)
