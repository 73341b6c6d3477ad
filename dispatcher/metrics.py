"""The dispatcher's Prometheus metrics (``GET /metrics``): ingest counters and case counts."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from dispatcher.db import CaseRow, OutboundRow, TimerRow
from dispatcher.services import Services


class DispatcherCollector(Collector):
    """Reads the live figures at scrape time, so nothing is counted twice or kept stale."""

    def __init__(self, services: Services) -> None:
        self.svc = services

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        stats = self.svc.ingest.stats
        ingest = CounterMetricFamily("gridpatrol_dispatcher_messages", "MQTT messages by outcome", labels=["outcome"])
        for outcome, value in (("received", stats.received), ("stored", stats.stored),
                               ("duplicate", stats.duplicates), ("quarantined", stats.quarantined)):
            ingest.add_metric([outcome], value)
        yield ingest
        yield GaugeMetricFamily("gridpatrol_dispatcher_mqtt_connected", "1 while subscribed", int(stats.connected))
        yield CounterMetricFamily("gridpatrol_dispatcher_escalations", "Timers fired here", self.svc.scheduler.fired)
        with self.svc.sessions() as session:
            cases = GaugeMetricFamily("gridpatrol_dispatcher_cases", "Cases by state", labels=["state"])
            for state, count in session.execute(select(CaseRow.state, func.count()).group_by(CaseRow.state)):
                cases.add_metric([state], count)
            yield cases
            pending = session.scalar(select(func.count()).select_from(TimerRow).where(
                TimerRow.fired_at.is_(None), TimerRow.cancelled_at.is_(None)))
            yield GaugeMetricFamily("gridpatrol_dispatcher_timers_pending", "Deadlines not yet due or fired", pending)
            outbound = session.scalar(select(func.count()).select_from(OutboundRow).where(
                OutboundRow.status == "pending"))
            yield GaugeMetricFamily("gridpatrol_dispatcher_outbound_pending", "City messages not yet sent", outbound)


def registry_for(services: Services) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(DispatcherCollector(services))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
