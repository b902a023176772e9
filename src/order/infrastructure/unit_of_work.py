"""The Order service's unit of work: a SQL transaction with the repositories bound to it."""

from __future__ import annotations

from common.db.database import Database
from common.db.unit_of_work import SqlUnitOfWork
from order.infrastructure.repositories import SqlOrderRepository, SqlReleaseOutbox


class SqlOrderUnitOfWork(SqlUnitOfWork):
    def __init__(self, database: Database, *, read_only: bool = False) -> None:
        super().__init__(database, read_only=read_only)
        self.orders = SqlOrderRepository(lambda: self.connection)
        self.outbox = SqlReleaseOutbox(lambda: self.connection)

    def __enter__(self) -> SqlOrderUnitOfWork:
        return self
