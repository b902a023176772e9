"""The event metrics of a service: ``eshop_events_published_total{type}`` (each type the service
publishes at 0 from start-up), and the backlog gauges ``eshop_events_pending`` and
``eshop_events_oldest_age_seconds``, read from the event outbox by the service's gauge refresh and from
a cache at scrape time. Exported whether or not a broker is configured."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone

from opentelemetry.metrics import Meter

from common.metrics import CachedValue, counter_from_zero, label_sets
from common.outbox.delivery import OutboxStats


class EventMetrics:
    def __init__(self, meter: Meter, event_types: Iterable[str]) -> None:
        self._published = counter_from_zero(
            meter,
            "eshop.events.published",
            unit="{event}",
            description="Integration events the broker confirmed, by type (the full message name); a "
            "redelivery after a crash counts again",
            known=label_sets(type=tuple(event_types)),
        )
        self.values = CachedValue()
        meter.create_observable_gauge(
            "eshop.events.pending",
            [self.values.callback("pending")],
            unit="{event}",
            description="Integration events written and not yet confirmed by the broker (refreshed every "
            "few seconds)",
        )
        meter.create_observable_gauge(
            "eshop.events.oldest_age",
            [self.values.callback("oldest_age")],
            unit="s",
            description="Age of the oldest integration event waiting to be published (0 when none waits)",
        )

    def published(self, event_type: str) -> None:
        self._published.add(1, {"type": event_type})

    def backlog(self, stats: OutboxStats) -> None:
        age = 0.0
        if stats.oldest is not None:
            age = max((datetime.now(timezone.utc) - stats.oldest).total_seconds(), 0.0)
        self.values.set(pending=stats.waiting, oldest_age=age)
