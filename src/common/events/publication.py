"""Publishing the event outbox: the outbox's delivery (``common.outbox``) with the broker as receiver.

Each pass takes of each order or product only its earliest unpublished event (so one subject's events
go out in commit order, whichever replica publishes), claims them under a lease, publishes them
together and marks each published once the broker has confirmed it (publisher confirms). A broker that
is down, refuses or vanishes mid-publish fails only the attempt: the event is retried with capped
exponential backoff and jitter, and what waited is tried at once when the broker is reachable again.
Published rows are kept for the retention, then pruned.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from common.backoff import Backoff
from common.clock import Clock
from common.events.outbox import EventOutbox, PendingEvent
from common.outbox.delivery import OutboxDelivery, OutboxStats
from common.transactions import UnitOfWork

PRUNE_INTERVAL_S = 60.0
PRUNE_BATCH = 1000


class Broker(Protocol):
    async def ready(self) -> bool:
        """Whether a publication can be tried now (connecting first if the backoff allows)."""
        ...

    async def publish(self, event: PendingEvent, within_s: float | None) -> None:
        """Publish and wait for the broker's confirmation; NotDelivered when it does not confirm."""
        ...

    @property
    def exchange(self) -> str: ...


class EventUnitOfWork(UnitOfWork, Protocol):
    events: EventOutbox


class EventPublication:
    """What an event is for the outbox's delivery: a message published to the exchange."""

    failure_log_level = "INFO"  # the broker's outage itself is a WARNING, once (see amqp.py)
    span_kind = "producer"

    def __init__(
        self,
        uow_factory: Callable[[], EventUnitOfWork],
        broker: Broker,
        clock: Clock,
        *,
        backoff: Backoff,
        lease_s: float,
        retention_s: float,
        published: Callable[[str], None] = lambda event_type: None,
    ) -> None:
        self._uow_factory = uow_factory
        self._broker = broker
        self._clock = clock
        self._retention = timedelta(seconds=retention_s)
        self._published = published
        self._last_prune = float("-inf")
        self._outbox: OutboxDelivery[EventUnitOfWork, PendingEvent] = OutboxDelivery(
            uow_factory, lambda uow: uow.events, self, clock, backoff=backoff, lease_s=lease_s
        )

    async def connected(self) -> bool:
        return await self._broker.ready()

    async def deliver_due(self, limit: int = 100) -> int:
        if time.monotonic() - self._last_prune >= PRUNE_INTERVAL_S:
            self._last_prune = time.monotonic()
            await self.prune()
        return await self._outbox.deliver_due(limit)

    async def retry_waiting_now(self) -> int:
        return await self._outbox.retry_waiting_now()

    async def stats(self) -> OutboxStats:
        return await self._outbox.stats()

    async def prune(self) -> int:
        """Delete what was published longer than the retention ago; how many rows."""
        cutoff = self._clock() - self._retention
        uow = self._uow_factory()
        return await uow.run(self._prune, uow, cutoff)

    @staticmethod
    def _prune(uow: EventUnitOfWork, cutoff: datetime) -> int:
        pruned = uow.events.prune(cutoff, PRUNE_BATCH)
        uow.commit()
        return pruned

    # What an event is, for the outbox's delivery (common.outbox.delivery.Delivery).

    def describe(self, entry: PendingEvent) -> str:
        return f"event {entry.event_type} {entry.event_id} (subject {entry.subject})"

    def log_extras(self, entry: PendingEvent) -> dict[str, str]:
        return {"event_id": str(entry.event_id), "event_type": entry.event_type}

    def span(self, entry: PendingEvent) -> tuple[str, dict[str, str]]:
        # OpenTelemetry's messaging conventions: "{operation} {destination}", a PRODUCER span.
        return f"publish {self._broker.exchange}", {
            "messaging.system": "rabbitmq",
            "messaging.operation.name": "publish",
            "messaging.destination.name": self._broker.exchange,
            "messaging.rabbitmq.destination.routing_key": entry.event_type,
            "messaging.message.id": str(entry.event_id),
            "eshop.event.subject": entry.subject,
        }

    async def send(self, entry: PendingEvent, within_s: float | None) -> None:
        await self._broker.publish(entry, within_s)

    def delivered(self, entry: PendingEvent) -> None:
        self._published(entry.event_type)

    def failed(self, entry: PendingEvent) -> None:
        pass
