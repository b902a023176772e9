"""The Order service's unit of work: a SQL transaction with the repositories bound to it. At commit
it writes the events the saved orders raised to the event outbox, in the same transaction."""

from __future__ import annotations

from common.db.database import Database
from common.db.event_outbox import SqlEventOutbox
from common.db.unit_of_work import SqlUnitOfWork
from common.events.recording import EventRecorder
from order.infrastructure.repositories import SqlOrderRepository, SqlReleaseOutbox
from order.infrastructure.tables import event_outbox


class SqlOrderUnitOfWork(SqlUnitOfWork):
    def __init__(
        self, database: Database, *, read_only: bool = False, events: EventRecorder | None = None
    ) -> None:
        """``events``: None when no broker is configured (events are neither written nor published)."""
        super().__init__(database, read_only=read_only)
        self.orders = SqlOrderRepository(lambda: self.connection)
        self.outbox = SqlReleaseOutbox(lambda: self.connection)
        self.events = SqlEventOutbox(lambda: self.connection, event_outbox)
        self._recorder = events

    def __enter__(self) -> SqlOrderUnitOfWork:
        return self

    def _write_events(self) -> None:
        raised = self.orders.take_raised()
        if raised and self._recorder is not None and self._recorder.record(self.events, raised):
            self.after_commit(self._recorder.written)

    def _transaction_ended(self) -> None:
        self.orders.forget()
