"""Everything one dispatcher process holds, built once from its config."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import sessionmaker

from contract import ViolationEvent
from contract.configfile import ConfigError
from dispatcher.auth import AuthService, LoginLimiter, SignedLinks
from dispatcher.cases import CaseService, IngestResult
from dispatcher.channels import channel_problems
from dispatcher.config import DispatcherConfig
from dispatcher.db import make_engine, make_sessions
from dispatcher.escalation import EscalationScheduler
from dispatcher.evidence import EvidenceStore
from dispatcher.feed import FeedHub
from dispatcher.grid import Grid, load_grid
from dispatcher.ingest import Ingest
from dispatcher.notify import Notifier
from dispatcher.webhook import CityWebhookSender
from dispatcher.webpush import VapidKeys


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
    city: CityWebhookSender | None = None

    @classmethod
    def build(cls, config: DispatcherConfig) -> Services:
        grid = load_grid(config.grid_file)
        sessions = make_sessions(make_engine(config.database_url))
        cases = CaseService(sessions, grid, config.escalation, config.dedup, config.event_codes)
        problems = channel_problems(config.channels, grid)
        if problems:
            raise ConfigError(f"{config.grid_file}: " + "; ".join(problems))
        keys = VapidKeys(config.data_dir)
        links = SignedLinks(config.auth.link_secret, config.data_dir, config.public_url(), config.auth.link_ttl_s)
        notifier = Notifier(sessions, cases, keys, config.webpush, config.channels, links, config.public_url())
        feed = FeedHub()
        auth = AuthService(sessions, grid, timedelta(hours=config.auth.session_ttl_h),
                           LoginLimiter(config.auth.login_max_failures, config.auth.login_window_s))

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

        ingest = Ingest(config.mqtt, config.ingest, cases, sessions, on_result)
        evidence = EvidenceStore(config.data_dir / "evidence", config.max_evidence_bytes)
        scheduler = EscalationScheduler(
            cases, notifier.submit, config.escalation.poll_s, config.escalation.instance_id
        )
        city = None
        if config.city_webhook is not None:
            cases.city_webhook = True
            city = CityWebhookSender(sessions, config.city_webhook)
        return cls(config, sessions, grid, cases, evidence, feed, keys, notifier, ingest, scheduler, auth, links, city)

    def start(self) -> None:
        self.ingest.start()
        self.scheduler.start()
        if self.city:
            self.city.start()

    def close(self) -> None:
        if self.city:
            self.city.stop()
        self.scheduler.stop()
        self.ingest.stop()
        self.notifier.close()
