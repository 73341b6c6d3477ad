"""Everything one dispatcher process holds, built once from its config."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import sessionmaker

from contract import ViolationEvent
from contract.configfile import ConfigError
from dispatcher.auth import AuthService, LoginLimiter
from dispatcher.cameras import CameraBoard
from dispatcher.cases import CaseService, IngestResult
from dispatcher.channels import channel_problems
from dispatcher.config import DispatcherConfig
from dispatcher.db import make_engine, make_sessions
from dispatcher.escalation import EscalationScheduler
from dispatcher.evidence import EvidenceStore, evidence_store
from dispatcher.feed import FeedHub
from dispatcher.grid import Grid, load_grid
from dispatcher.gridstore import GridRejected, GridStore, GridWatcher
from dispatcher.ingest import Ingest
from dispatcher.links import SignedLinks
from dispatcher.notify import Notifier
from dispatcher.ratings import RatingLinks
from dispatcher.screen import EventScreen
from dispatcher.webhook import CityWebhookSender
from dispatcher.webpush import VapidKeys
from dispatcher.zonefile import ZoneFile
from dispatcher.zonetest import ZoneTester
from i18n import translator

log = logging.getLogger(__name__)

@dataclass
class Services:
    config: DispatcherConfig
    sessions: sessionmaker
    grid: Grid
    cases: CaseService
    evidence: EvidenceStore
    feed: FeedHub
    keys: VapidKeys
    notifier: Notifier
    ingest: Ingest
    scheduler: EscalationScheduler
    auth: AuthService
    links: SignedLinks
    grids: GridStore
    cameras: CameraBoard
    zones: ZoneFile | None = None
    city: CityWebhookSender | None = None
    grid_watcher: GridWatcher | None = None
    ratings: RatingLinks | None = None
    zone_tester: ZoneTester | None = None

    @classmethod
    def build(cls, config: DispatcherConfig) -> Services:
        refused = config.outbound_problems()
        if refused:
            raise ConfigError("outbound destinations refused: " + "; ".join(refused))
        from_file = load_grid(config.grid_file)
        problems = channel_problems(config.channels, from_file)
        if problems:
            raise ConfigError(f"{config.grid_file}: " + "; ".join(problems))
        sessions = make_sessions(make_engine(config.database_url))
        grids = GridStore(sessions)
        grid_version, grid = grids.start_from_file(from_file)
        cases = CaseService(sessions, grid, config.escalation, config.dedup, config.event_codes)
        cases.town_words, cases.timezone = translator(config.locale), config.timezone
        cases.shop_notice = config.shops
        keys = VapidKeys(sessions, config.data_dir)
        links = SignedLinks(config.auth.link_secret, sessions, config.data_dir, config.public_url(),
                            config.auth.link_ttl_s)
        guard = config.outbound.guard()
        notifier = Notifier(sessions, cases, keys, config.webpush, config.channels, links, config.public_url(), guard,
                            config.locale, config.timezone)
        feed = FeedHub()
        auth = AuthService(sessions, grid, timedelta(hours=config.auth.session_ttl_h),
                           LoginLimiter(sessions, config.auth.login_window_s, config.auth.login_max_failures,
                                    config.auth.login_address_max_failures))

        def on_result(event: ViolationEvent, result: IngestResult) -> None:
            if result.duplicate:
                return
            notifier.submit(result.deliveries)
            shown = event.model_dump(mode="json")
            if shown.get("snapshot"):
                shown["snapshot"]["url"] = links.sign(shown["snapshot"]["url"])
            feed.publish({
                "type": "event",
                "event": shown,
                "case_id": result.case_id,
                "case_opened": result.opened,
            })

        zones = ZoneFile(config.edge_config) if config.edge_config else None
        screen = EventScreen(timedelta(days=config.ingest.max_event_age_days),
                             timedelta(seconds=config.ingest.max_clock_skew_s),
                             zones.known_cameras if zones else lambda: None)
        ingest = Ingest(config.mqtt, config.ingest, cases, sessions, on_result, screen)
        evidence = evidence_store(config.data_dir, config.evidence_s3, config.max_evidence_bytes)
        scheduler = EscalationScheduler(
            cases, notifier.submit, config.escalation.poll_s, config.escalation.instance_id
        )
        city = None
        if config.city_webhook is not None:
            cases.city_webhook = True
            city = CityWebhookSender(sessions, config.city_webhook, guard)
        board = CameraBoard(config.mqtt, f"{config.mqtt.client_id or config.ingest.client_id}-health", feed.publish)
        svc = cls(config, sessions, grid, cases, evidence, feed, keys, notifier, ingest, scheduler, auth, links,
                  grids, board, zones, city)
        svc.grid_watcher = GridWatcher(grids, grid_version, svc.use_grid, config.escalation.poll_s)
        svc.zone_tester = ZoneTester(board.client)
        svc.ratings = RatingLinks(sessions, cases, auth.limiter, links, config.public_url(),
                                  timedelta(hours=config.auth.rating_link_ttl_h))
        return svc

    def database_problem(self) -> str | None:
        """For /healthz: None when the database answers, else the part that failed (no error
        text: the route is public; the log has it)."""
        from sqlalchemy import text
        from sqlalchemy.exc import SQLAlchemyError

        try:
            with self.sessions() as session:
                session.execute(text("SELECT 1"))
        except (SQLAlchemyError, OSError) as exc:
            log.error("health: the database does not answer: %s", str(exc).splitlines()[0])
            return "database: not reachable"
        return None

    def use_grid(self, grid: Grid) -> None:
        """Put a new grid version in force in this process (routing, escalation, access)."""
        self.grid = self.cases.grid = self.auth.grid = grid

    def save_grid(self, grid: Grid, by: str, note: str | None) -> int:
        """Validate against this dispatcher's channels, store as the newest version, use it."""
        problems = channel_problems(self.config.channels, grid)
        if problems:
            raise GridRejected("; ".join(problems))
        version = self.grids.save(grid, by, note)
        self.use_grid(grid)
        if self.grid_watcher is not None:
            self.grid_watcher.current_id = max(self.grid_watcher.current_id, version)
        return version

    def start(self) -> None:
        self.ingest.start()
        self.cameras.start()
        self.scheduler.start()
        if self.grid_watcher:
            self.grid_watcher.start()
        if self.city:
            self.city.start()

    def close(self) -> None:
        if self.city:
            self.city.stop()
        self.scheduler.stop()
        if self.grid_watcher:
            self.grid_watcher.stop()
        self.cameras.stop()
        self.ingest.stop()
        self.notifier.close()
