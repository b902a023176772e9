"""The Order service's unit of work: a SQL transaction with the repositories bound to it. At commit
it writes the events the saved orders raised to the event outbox, in the same transaction."""

from __future__ import annotations

from common.db.database import Database
from common.db.unit_of_work import SqlUnitOfWork
from common.events.recording import EventRecorder
from order.domain.events import OrderEvent
from order.domain.model import Order
from order.infrastructure.repositories import SqlOrderRepository, SqlReleaseOutbox
from order.infrastructure.tables import event_outbox


class SqlOrderUnitOfWork(SqlUnitOfWork):
    def __init__(
        self, database: Database, *, read_only: bool = False, events: EventRecorder | None = None
    ) -> None:
        """``events``: None when no broker is configured (events are neither written nor published)."""
        super().__init__(database, event_outbox, read_only=read_only, events=events)
        self.orders = SqlOrderRepository(
            lambda: self.connection, writes_in_one_statement=database.writes_in_one_statement
        )
        self.outbox = SqlReleaseOutbox(lambda: self.connection)

    def __enter__(self) -> SqlOrderUnitOfWork:
        return self

    def _raised(self) -> list[tuple[Order, OrderEvent]]:
        return self.orders.take_raised()

    def _transaction_ended(self) -> None:
        self.orders.forget()
