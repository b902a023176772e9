"""A unit of work over a ``Database``: one transaction at a time, opened lazily on first use.

``run(body, *args)`` is how a transaction runs: the database adapter runs the synchronous ``body``
inside this unit of work's block (inline on the loop for SQLite, on a thread for PostgreSQL); ``body``
commits (``commit_in_time``) or leaves, which rolls back. Between two ``run``s a handler may await
another service with no lock or connection held.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

from opentelemetry.trace import SpanKind
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError, OperationalError

from common import telemetry
from common.db.database import Database, DatabaseBusy
from common.db.outage import is_contention
from common.errors import Aborted, Unavailable
from common.transactions import AfterCommit

# PostgreSQL's serialization_failure and deadlock_detected: the transaction lost a race and may be
# retried as a whole.
_CONFLICT_SQLSTATES = {"40001", "40P01"}
T = TypeVar("T")
_tracer = telemetry.tracer("eshop.db")


def is_conflict(error: BaseException) -> bool:
    return isinstance(error, DBAPIError) and getattr(error.orig, "sqlstate", None) in _CONFLICT_SQLSTATES


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
        with _tracer.start_as_current_span(
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
        if exc is not None and is_conflict(exc):
            raise Aborted("the change conflicted with a concurrent one; try again") from exc
        if self._database.is_sqlite and isinstance(exc, OperationalError) and is_contention(exc):
            raise DatabaseBusy("database is busy, try again") from exc
        if isinstance(exc, OperationalError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated):
            # The database is down or locked: a retryable condition for the caller, not a bug.
            raise Unavailable("database unavailable, try again") from exc

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
            self._database.end(conn, commit=commit, failure=failure)
