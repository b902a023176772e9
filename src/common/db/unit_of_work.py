"""A unit of work over a ``Database``: one transaction at a time, opened lazily on first use.

``run(body, *args)`` is how a transaction runs: the database adapter runs the synchronous ``body``
inside this unit of work's block (inline on the loop for SQLite, in a greenlet on it for PostgreSQL); ``body``
commits (``commit_in_time``) or leaves, which rolls back. Between two ``run``s a handler may await
another service with no lock or connection held.

Every service's database has an event outbox (``events``). At commit, before the COMMIT and in its
transaction, the events the transaction's aggregates raised (``_raised``: the service's unit of work
knows its repositories) are written to it by the ``EventRecorder``; with no recorder (no broker
configured) nothing is written. The event publisher uses this class as it is: it raises nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

from opentelemetry.trace import SpanKind
from sqlalchemy import Connection, Table

from common import telemetry
from common.db.database import Database
from common.db.event_outbox import SqlEventOutbox
from common.events.recording import EventRecorder
from common.transactions import AfterCommit

T = TypeVar("T")


class SqlUnitOfWork:
    def __init__(
        self,
        database: Database,
        event_table: Table,
        *,
        read_only: bool = False,
        events: EventRecorder | None = None,
    ) -> None:
        """``event_table``: the service's event outbox; ``events``: None when no broker is configured
        (events are neither written nor published)."""
        self._database = database
        self._read_only = read_only
        self._conn: Connection | None = None
        self._after_commit = AfterCommit()
        self.events = SqlEventOutbox(lambda: self.connection, event_table)
        self._recorder = events

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
        the event outbox; the publisher is woken once the commit is done."""
        raised = self._raised()
        if raised and self._recorder is not None and self._recorder.record(self.events, raised):
            self.after_commit(self._recorder.written)

    def _raised(self) -> list[tuple[Any, Any]]:
        """(aggregate as stored, event it raised) of the current transaction; the service's unit of work
        takes them from its repositories."""
        return []

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
