"""The Product service's unit of work: a SQL transaction with the repositories bound to it. At commit
it writes the events the written products raised to the event outbox, in the same transaction."""

from __future__ import annotations

from common.db.database import Database
from common.db.event_outbox import SqlEventOutbox
from common.db.unit_of_work import SqlUnitOfWork
from common.events.recording import EventRecorder
from product.infrastructure.repositories import SqlProductRepository, SqlReservationRepository
from product.infrastructure.tables import event_outbox


class SqlProductUnitOfWork(SqlUnitOfWork):
    def __init__(
        self, database: Database, *, read_only: bool = False, events: EventRecorder | None = None
    ) -> None:
        """``events``: None when no broker is configured (events are neither written nor published)."""
        super().__init__(database, read_only=read_only)
        # Repositories ask for the connection per statement: after a commit they use the next transaction.
        self.products = SqlProductRepository(lambda: self.connection)
        self.reservations = SqlReservationRepository(lambda: self.connection)
        self.events = SqlEventOutbox(lambda: self.connection, event_outbox)
        self._recorder = events

    def __enter__(self) -> SqlProductUnitOfWork:
        return self

    def _write_events(self) -> None:
        raised = self.products.take_raised()
        if raised and self._recorder is not None and self._recorder.record(self.events, raised):
            self.after_commit(self._recorder.written)

    def _transaction_ended(self) -> None:
        self.products.forget()
