"""The Alembic migrations on SQLite and PostgreSQL: they build exactly the models' schema, and
a migration that adds columns fills them for what was stored before it."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from builders import at_spot, case_service

from dispatcher.db import Base, CaseRow, alembic_config, make_engine, migrate


def test_migrations_build_exactly_the_models_schema(database_url: str) -> None:
    engine = make_engine(database_url)
    migrate(engine)
    migrate(engine)  # a second start changes nothing
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []


def test_the_spot_migration_fills_the_boxes_of_cases_from_before_it(database_url: str) -> None:
    """Cases stored before the spot columns existed keep catching later detections at their spot."""
    from alembic import command

    cases = case_service(database_url)
    first = cases.ingest(at_spot(1, (100, 100, 160, 180))).case_id
    config = alembic_config()
    with make_engine(database_url).connect() as conn:
        if conn.dialect.name == "sqlite":  # SQLite drops a column by copying the table
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        config.attributes["connection"] = conn
        command.downgrade(config, "0007")
        conn.commit()
    migrate(make_engine(database_url))
    with cases.sessions() as s:
        case = s.get(CaseRow, first)
        assert (case.spot_x1, case.spot_y1, case.spot_x2, case.spot_y2) == (100, 100, 160, 180)
    joined = cases.ingest(at_spot(2, (104, 102, 166, 184)))
    assert (joined.opened, joined.case_id) == (False, first)

