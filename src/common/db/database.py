"""What the rest of the project uses of a database, whichever it is: the ``Database`` protocol, what a
database failure means (``Fault``), and the two ways a database setting fails at start.

One class per backend implements it: ``common.db.sqlite.SqliteDatabase`` (the embedded default) and
``common.db.postgres.PostgresDatabase`` (production), sharing ``common.db.pooled.PooledDatabase``;
``common.db.factory.open_database`` picks one from the URL.

A transaction is a short synchronous function (no ``await`` inside it) that begins its own transaction
(``begin``) and ends it (``end``); ``run`` runs it where the backend wants it, from the server's event
loop. A failure at any point of a transaction is classified once, by the database class: ``refusal``
says what the caller is told.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Protocol, TypeVar

from sqlalchemy import Connection
from sqlalchemy.engine import Engine

from common.errors import AppError

T = TypeVar("T")


class Fault(enum.Enum):
    """What a database error means for the transaction that met it."""

    OUTAGE = "outage"  # the connection is lost or the database refuses writes: discard it, not ready
    BUSY = "busy"  # a lock held elsewhere or a statement timeout: only this transaction lost
    CONFLICT = "conflict"  # a serialization failure or deadlock: the transaction may be rerun whole


class DatabaseUnusable(Exception):
    """The database setting cannot work (no such database, a role or password refused, a file that is
    not a SQLite database): a configuration problem, not an outage to wait out."""


class DatabaseUnreachable(Exception):
    """Nothing answered at the database setting's address within the wait at start: the server may be
    down or not up yet, or the address may be wrong."""


class DatabaseClosed(RuntimeError):
    """A transaction asked of a database after ``dispose``: its service has stopped, and whatever
    still runs must not reopen it (a pool, threads) behind the stop."""

    def __init__(self, url: str) -> None:
        super().__init__(f"the database {url} is closed: its service has stopped, no transaction runs now")


class Database(Protocol):
    engine: Engine

    @property
    def system_name(self) -> str:
        """OpenTelemetry's db.system.name: "sqlite" or "postgresql"."""
        ...

    async def run(self, transaction: Callable[[], T], *, write: bool) -> T:
        """Run ``transaction`` (synchronous, opening and ending its own transaction) where this backend
        runs transactions; the caller's context variables (deadline, correlation id) go with it.
        DatabaseClosed once disposed."""
        ...

    def begin(self, *, write: bool) -> Connection:
        """A connection inside a fresh transaction."""
        ...

    def end(
        self, conn: Connection, *, write: bool, commit: bool, failure: BaseException | None = None
    ) -> None:
        """Commit or roll back, and give the connection back; ``failure`` is what ended the work
        early, if anything (a connection it broke is discarded, not pooled)."""
        ...

    def refusal(self, error: BaseException) -> AppError | None:
        """What the caller is told for ``error`` raised by a transaction: UNAVAILABLE (an outage, or
        busy), ABORTED (a conflict); None for anything else, which stays an internal error."""
        ...

    def prepare(self, migrate: Callable[[Database], None]) -> None:
        """At start: reach the database and have ``migrate`` bring (or check) its schema. Raises
        DatabaseUnusable or DatabaseUnreachable when the setting cannot work."""
        ...

    def schema_change(self, name: str) -> AbstractContextManager[Connection]:
        """A connection on which one process at a time changes the schema ``name`` (replicas that start
        together migrate one after the other)."""
        ...

    def serving(self) -> None:
        """From now on transactions run from an event loop."""
        ...

    async def is_ready(self) -> bool:
        """True when the database answers and takes writes; never blocks the loop."""
        ...

    def ping(self) -> bool:
        """True when the database answers a trivial query."""
        ...

    @property
    def writes_in_one_statement(self) -> bool:
        """Whether one statement may write several tables (data-modifying ``WITH`` clauses): a write of
        several rows and tables is then one round trip instead of one per statement."""
        ...

    @property
    def concurrent_transactions(self) -> bool:
        """Whether transactions overlap on several pooled connections: only then does a count of the
        connections in use say anything (a metric of it is exported)."""
        ...

    def connections_in_use(self) -> int: ...
    def redacted_url(self) -> str: ...
    def close_connections(self) -> None: ...
    def dispose(self) -> None: ...
