"""The Product service's unit of work: a SQL transaction with the repositories bound to it."""

from __future__ import annotations

from common.db.database import Database
from common.db.unit_of_work import SqlUnitOfWork
from product.infrastructure.repositories import SqlProductRepository, SqlReservationRepository


class SqlProductUnitOfWork(SqlUnitOfWork):
    def __init__(self, database: Database, *, read_only: bool = False) -> None:
        super().__init__(database, read_only=read_only)
        # Repositories ask for the connection per statement: after a commit they use the next transaction.
        self.products = SqlProductRepository(lambda: self.connection)
        self.reservations = SqlReservationRepository(lambda: self.connection)

    def __enter__(self) -> SqlProductUnitOfWork:
        return self
