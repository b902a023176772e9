"""A unit of work over a ``Database``: one transaction at a time, opened lazily on first use.

``run(body, *args)`` is how a transaction runs: the database adapter runs the synchronous ``body``
inside this unit of work's block (inline on the loop for SQLite, in a greenlet on it for PostgreSQL); ``body``
commits (``commit_in_time``) or leaves, which rolls back. Between two ``run``s a handler may await
another service with no lock or connection held.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

from opentelemetry.trace import SpanKind
from sqlalchemy import Connection

from common import telemetry
from common.db.database import Database
from common.transactions import AfterCommit

T = TypeVar("T")


class SqlUnitOfWork:
    def __init__(self, database: Database, *, read_only: bool = False) -> None:
        self._database = database
        self._read_only = read_only
        self._conn: Connection | None = None
        self._after_commit = AfterCommit()

    @property
    def connection(self) -> Connection:
        if self._conn is None:
            self._conn = self._database.begin(write=not self._read_only)
        return self._conn

    async def run(self, body: Callable[..., T], *args: Any) -> T:
        """Run ``body(*args)`` as one transaction where the backend runs transactions."""

        def transaction() -> T:
            with self:
                return body(*args)

        if not telemetry.installed():
            return await self._database.run(transaction, write=not self._read_only)
        # One span per transaction (OpenTelemetry's SQLAlchemy instrumentation is inert on SQLAlchemy 2.1).
        with telemetry.tracer("eshop.db").start_as_current_span(
            "db.transaction",
            kind=SpanKind.CLIENT,
            attributes={"db.system.name": self._database.system_name, "db.read_only": self._read_only},
        ):
            return await self._database.run(transaction, write=not self._read_only)

    def __enter__(self) -> SqlUnitOfWork:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._finish(commit=False, failure=exc)
        # A database failure the caller may retry (an outage, contention, a conflict) becomes the
        # status that says so; the database class knows which is which.
        refusal = None if exc is None else self._database.refusal(exc)
        if refusal is not None:
            raise refusal from exc

    @property
    def in_transaction(self) -> bool:
        return self._conn is not None

    def commit(self) -> None:
        self._write_events()
        self._finish(commit=True)
        self._after_commit.run()

    def _write_events(self) -> None:
        """Before the commit, in its transaction: the events the transaction's aggregates raised, into
        the event outbox (the service's unit of work knows where both are)."""

    def _transaction_ended(self) -> None:
        """After a commit or a rollback: what the transaction's repositories remember is forgotten."""

    def after_commit(self, action: Callable[[], None]) -> None:
        self._after_commit.add(action)

    def rollback(self) -> None:
        self._finish(commit=False)

    def _finish(self, *, commit: bool, failure: BaseException | None = None) -> None:
        if not commit:
            self._after_commit.discard()
        self._transaction_ended()
        conn, self._conn = self._conn, None
        if conn is not None:
            self._database.end(conn, write=not self._read_only, commit=commit, failure=failure)
