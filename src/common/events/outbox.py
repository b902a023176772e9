"""The event outbox as the services see it: an event waiting to be published, and the store of them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from common.outbox.delivery import OutboxStats


@dataclass(frozen=True)
class EncodedEvent:
    """An event as it goes on the wire: its full message name (``eshop.order.v1.OrderConfirmed``), the
    id of the order or product it is about, the serialized message, and when the change happened."""

    event_type: str
    subject: str
    payload: bytes
    time: datetime


@dataclass(frozen=True)
class PendingEvent:
    """An event written with its change and not yet confirmed by the broker (the outbox row).
    ``entry_id`` is the row's sequence: the commit order of the events of one subject."""

    entry_id: int
    event_id: UUID
    event_type: str
    subject: str
    payload: bytes
    time: datetime
    correlation_id: str
    trace_context: str
    attempts: int
    next_attempt_at: datetime
    created_at: datetime


class EventOutbox(Protocol):
    def add(
        self, event: EncodedEvent, event_id: UUID, correlation_id: str, trace_context: str, now: datetime
    ) -> None: ...

    def due(self, now: datetime, limit: int) -> list[PendingEvent]:
        """Events to publish now: of each subject only its earliest unpublished one (so the events of
        one order or product go out in commit order), and only if that one is due."""
        ...

    def claim(self, entry: PendingEvent, until: datetime) -> bool: ...
    def done(self, entry_id: int, now: datetime) -> None:
        """Published (the broker confirmed it): kept until the retention prunes it."""
        ...

    def retry_later(self, entry_id: int, attempts: int, at: datetime, error: str) -> None: ...
    def retry_now(self, now: datetime) -> int: ...
    def stats(self) -> OutboxStats: ...
    def prune(self, published_before: datetime, limit: int) -> int:
        """Delete up to ``limit`` events published before ``published_before``; how many."""
        ...
