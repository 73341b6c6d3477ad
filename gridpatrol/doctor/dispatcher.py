"""The doctor's checks of a dispatcher config: is this dispatcher ready to take a town's events?

In order: the config validates; the database answers and its schema is one this dispatcher
knows (older is fine: it is upgraded at start); the grid file names its micro-grids and people;
the broker takes the dispatcher's credentials and lets it read the boxes' statuses (ACL); the
channels' and city webhook's addresses pass the outbound rule; the data folder is writable and
its disk has room; the evidence bucket answers (where one is set); links in notices reach
phones (``http.public_url``); the clock agrees with the database server's.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from contract import EDGE_STATUS_SUBSCRIPTION
from contract.configfile import ConfigError
from dispatcher.config import DispatcherConfig, load_dispatcher_config
from gridpatrol.doctor.checks import BrokerRefused, Result, broker_session, check_clock, check_disk
from i18n import Msg

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def check_config(path: Path) -> tuple[Result, DispatcherConfig | None]:
    try:
        config = load_dispatcher_config(path)
    except ConfigError as exc:
        return Result(False, Msg("config"), str(exc), Msg("correct the key named above and run doctor again")), None
    return Result(True, Msg("config"), Msg("{path}: a dispatcher config", path=str(path))), config


def check_database(config: DispatcherConfig) -> tuple[Result, datetime | None, float]:
    """The database and its schema revision; the database server's clock for the clock check."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    from dispatcher.db.engine import alembic_config, make_engine

    name = Msg("database")
    shown = _without_password(config.database_url)
    try:
        engine = make_engine(config.database_url)
        with engine.connect() as connection:
            began = time.time()
            clock = (connection.execute(text("SELECT now()")).scalar_one()
                     if connection.dialect.name == "postgresql" else None)
            took = time.time() - began
            current = set(MigrationContext.configure(connection).get_current_heads())
        engine.dispose()
    except (SQLAlchemyError, OSError) as exc:
        return Result(False, name, f"{shown}: {str(exc).splitlines()[0]}",
                      Msg("start the database, or correct database_url (and its user and password)")), None, 0.0
    known = ScriptDirectory.from_config(alembic_config())
    heads = set(known.get_heads())
    if current - {rev.revision for rev in known.walk_revisions()}:
        return Result(False, name, Msg("{url} holds schema {revision}, newer than this dispatcher knows",
                                       url=shown, revision=", ".join(sorted(current))),
                      Msg("run the dispatcher's newest release against this database")), clock, took
    state = (Msg("its schema is current") if current == heads else
             Msg("empty: the tables are made at start") if not current else
             Msg("its schema is upgraded at start"))
    return Result(True, name, Msg("{url} answers; {state}", url=shown, state=state)), clock, took


def _without_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]


def check_grid(config: DispatcherConfig) -> Result:
    from dispatcher.grid import load_grid

    try:
        grid = load_grid(config.grid_file)
    except (OSError, ValueError) as exc:
        return Result(False, Msg("grid"), str(exc),
                      Msg("correct grid_file (micro-grids, their workers and leaders)"))
    return Result(True, Msg("grid"), Msg("{path}: {grids} micro-grids, {people} people", path=str(config.grid_file),
                                         grids=len(grid.micro_grids), people=len(grid.people)))


def check_broker(config: DispatcherConfig, listen_s: float = 2.0) -> Result:
    """Credentials, then what the dispatcher may read: brokers grant any subscription and filter
    on delivery (Mosquitto's ACL does), so the check counts the boxes whose retained status
    reaches it."""
    name = Msg("broker")
    boxes: set[str] = set()
    try:
        with broker_session(config.mqtt, f"{config.ingest.client_id}-doctor", Msg("the dispatcher")) \
                as (client, answers):
            client.on_message = lambda c, userdata, message: boxes.add(message.topic.split("/")[2])
            client.subscribe(EDGE_STATUS_SUBSCRIPTION, qos=1)
            if not answers["subscribed"].wait(10):
                return Result(False, name, Msg("{url}: no answer to a subscription", url=config.mqtt.url),
                              Msg("correct mqtt.url"))
            time.sleep(listen_s)  # retained statuses arrive right after the SUBACK
    except BrokerRefused as refused:
        return refused.result
    if not boxes:
        return Result(None, name, Msg("{url} takes the dispatcher's credentials; no box's status reached it (no box "
                                      "has connected yet, or the ACL does not let the dispatcher read "
                                      "gridpatrol/v1/#)", url=config.mqtt.url))
    return Result(True, name, Msg("{url} takes the dispatcher's credentials; it reads the status of {count} boxes",
                                  url=config.mqtt.url, count=len(boxes)))


def check_outbound(config: DispatcherConfig) -> Result:
    name = Msg("outbound")
    destinations = config.outbound_urls()
    if not destinations:
        return Result(None, name, Msg("no channel or city webhook is configured: Web Push only"))
    problems = config.outbound_problems()
    if problems:
        return Result(False, name, "; ".join(problems),
                      Msg("use https to public addresses, or allow the internal network in outbound.allow_networks"))
    return Result(True, name, Msg("{count} destinations pass the outbound rule", count=len(destinations)))


def check_data_dir(config: DispatcherConfig) -> Result:
    folder = Path(config.data_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".doctor-"):
            pass
    except OSError as exc:
        return Result(False, Msg("data folder"), f"{folder}: {exc}",
                      Msg("make data_dir writable by the dispatcher's user, or point it elsewhere"))
    return check_disk(folder, 1000.0, Msg("evidence"), Msg("free disk space, or point data_dir at a larger disk"))


def check_evidence_store(config: DispatcherConfig) -> Result:
    name = Msg("evidence store")
    if config.evidence_s3 is None:
        return Result(None, name, Msg("a folder of this dispatcher (data_dir/evidence): other dispatchers cannot "
                                      "serve its images; set evidence_s3 for several"))
    from dispatcher.evidence import EvidenceUnavailable, S3Store

    store = S3Store(config.evidence_s3, config.max_evidence_bytes)
    try:
        store._call("head_bucket", lambda: store.client.head_bucket(Bucket=config.evidence_s3.bucket))
    except EvidenceUnavailable as exc:
        return Result(False, name, str(exc), Msg("start the store, or correct evidence_s3 (endpoint, bucket, keys)"))
    return Result(True, name, Msg("bucket {bucket} at {url} answers", bucket=config.evidence_s3.bucket,
                                  url=config.evidence_s3.endpoint_url))


def check_public_url(config: DispatcherConfig) -> Result:
    name = Msg("links")
    url = config.public_url()
    if config.http.public_url is None and config.http.host in LOOPBACK_HOSTS:
        return Result(False, name, Msg("links in notices point at {url}, which phones cannot reach", url=url),
                      Msg("set http.public_url to the address people open (behind the town's HTTPS proxy)"))
    if not url.startswith("https://"):
        return Result(None, name, Msg("links point at {url}: phones need https for notifications and the camera",
                                      url=url))
    return Result(True, name, Msg("links in notices point at {url}", url=url))


def run_checks(path: Path) -> Iterator[Result]:
    """The checks of a dispatcher config, in order, each as soon as it is done."""
    result, config = check_config(path)
    yield result
    if config is None:
        return
    database, clock, took = check_database(config)
    yield database
    yield check_grid(config)
    yield check_broker(config)
    yield check_outbound(config)
    yield check_data_dir(config)
    yield check_evidence_store(config)
    yield check_public_url(config)
    yield check_clock(clock.astimezone(UTC) if clock else None, took, Msg("the database server"))


__all__ = ["run_checks"]
