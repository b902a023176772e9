"""A unit of work over a ``Database``: one transaction at a time, opened lazily on first use.

``commit`` ends the current transaction; the next use of ``connection`` opens a new one. That lets a
handler commit, call another service with no lock held, then write the outcome in a second transaction.
"""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError, OperationalError

from common.db.database import Database
from common.errors import Aborted, Unavailable

# PostgreSQL's serialization_failure and deadlock_detected: the transaction lost a race and may be
# retried as a whole.
_CONFLICT_SQLSTATES = {"40001", "40P01"}


def is_conflict(error: BaseException) -> bool:
    return isinstance(error, DBAPIError) and getattr(error.orig, "sqlstate", None) in _CONFLICT_SQLSTATES


class SqlUnitOfWork:
    def __init__(self, database: Database, *, read_only: bool = False) -> None:
        self._database = database
        self._read_only = read_only
        self._conn: Connection | None = None

    @property
    def connection(self) -> Connection:
        if self._conn is None:
            self._conn = self._database.begin(write=not self._read_only)
        return self._conn

    def __enter__(self) -> SqlUnitOfWork:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._finish(commit=False, failure=exc)
        if exc is not None and is_conflict(exc):
            raise Aborted("the change conflicted with a concurrent one; try again") from exc
        if isinstance(exc, OperationalError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated):
            # The database is down or locked: a retryable condition for the caller, not a bug.
            raise Unavailable("database unavailable, try again") from exc

    @property
    def in_transaction(self) -> bool:
        return self._conn is not None

    def commit(self) -> None:
        self._finish(commit=True)

    def rollback(self) -> None:
        self._finish(commit=False)

    def _finish(self, *, commit: bool, failure: BaseException | None = None) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self._database.end(conn, commit=commit, failure=failure)
