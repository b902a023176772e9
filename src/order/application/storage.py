"""Storage ports of the Order service: its orders and its outbox of stock releases, behind a unit of work."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from common.call_context import Origin
from common.events.outbox import EventOutbox
from common.outbox.delivery import OutboxStats
from common.transactions import UnitOfWork
from order.domain.model import Order


@dataclass(frozen=True)
class PendingRelease:
    """A stock release the Product service has not acknowledged yet (the outbox row)."""

    entry_id: int
    order_id: UUID
    correlation_id: str
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    trace_context: str = ""  # W3C traceparent of the call that queued it (opaque here)


@dataclass(frozen=True)
class PendingStats:
    """PENDING orders right now, and the last change of the one left longest (None when none)."""

    count: int
    oldest: datetime | None


class OrderRepository(Protocol):
    def add(self, order: Order) -> bool:
        """Insert; False when the customer has an order with the same request_id already."""
        ...

    def get(self, order_id: UUID) -> Order | None: ...
    def get_by_request_id(self, customer_id: UUID, request_id: UUID) -> Order | None:
        """The customer's order made with ``request_id`` (request ids are each customer's own)."""
        ...

    def save(self, order: Order) -> bool:
        """Write ``order`` if it still has the status it was loaded with; False if someone moved it."""
        ...

    def pending_stats(self) -> PendingStats:
        """How many orders are PENDING right now, and since when (gauges, read every few seconds)."""
        ...

    def pending_since_before(self, cutoff: datetime, limit: int) -> list[Order]:
        """PENDING orders last touched before ``cutoff``, oldest first."""
        ...

    def list_newest_first(
        self, customer_id: UUID | None, before: tuple[datetime, UUID] | None, limit: int
    ) -> list[Order]: ...


class ReleaseOutbox(Protocol):
    def add(
        self, order_id: UUID, origin: Origin, now: datetime, first_attempt_at: datetime
    ) -> PendingRelease:
        """Queue a release, delivered later with ``origin``'s correlation id and in its trace; nobody
        delivers it before ``first_attempt_at``."""
        ...

    def due(self, now: datetime, limit: int) -> list[PendingRelease]: ...
    def claim(self, entry: PendingRelease, until: datetime) -> bool:
        """Take ``entry`` for delivery until ``until`` (a lease); False if another worker took it."""
        ...

    def done(self, entry_id: int, now: datetime) -> None: ...
    def retry_later(self, entry_id: int, attempts: int, at: datetime, error: str) -> None: ...
    def retry_now(self, now: datetime) -> int:
        """Every entry that has failed and waits for a later attempt is due at ``now``; how many."""
        ...

    def stats(self) -> OutboxStats: ...


class OrderUnitOfWork(UnitOfWork, Protocol):
    orders: OrderRepository
    outbox: ReleaseOutbox
    events: EventOutbox  # integration events, written at commit from what the saved orders raised

    def __enter__(self) -> OrderUnitOfWork: ...
    def __exit__(self, *exc_info: object) -> None: ...
    def commit(self) -> None: ...
