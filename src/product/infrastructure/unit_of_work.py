"""The Product service's unit of work: a SQL transaction with the repositories bound to it. At commit
it writes the events the written products raised to the event outbox, in the same transaction."""

from __future__ import annotations

from common.db.database import Database
from common.db.unit_of_work import SqlUnitOfWork
from common.events.recording import EventRecorder
from product.domain.events import ProductEvent
from product.domain.model import Product
from product.infrastructure.repositories import SqlProductRepository, SqlReservationRepository
from product.infrastructure.tables import event_outbox


class SqlProductUnitOfWork(SqlUnitOfWork):
    def __init__(
        self, database: Database, *, read_only: bool = False, events: EventRecorder | None = None
    ) -> None:
        """``events``: None when no broker is configured (events are neither written nor published)."""
        super().__init__(database, event_outbox, read_only=read_only, events=events)
        # Repositories ask for the connection per statement: after a commit they use the next transaction.
        self.products = SqlProductRepository(lambda: self.connection)
        self.reservations = SqlReservationRepository(
            lambda: self.connection,
            self.products,
            writes_in_one_statement=database.writes_in_one_statement,
        )

    def __enter__(self) -> SqlProductUnitOfWork:
        return self

    def _raised(self) -> list[tuple[Product, ProductEvent]]:
        return self.products.take_raised()

    def _transaction_ended(self) -> None:
        self.products.forget()
