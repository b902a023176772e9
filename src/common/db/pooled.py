"""What the two database classes share: one SQLAlchemy engine whose pool hands out the connection
returned last, how a transaction ends, the outage episode, the ping, and the BEGIN said
straight to the driver.

What differs between SQLite and PostgreSQL (where a transaction runs, what BEGIN says, which errors
mean what, how a connection is kept or pooled) is each class's own: ``common.db.sqlite``,
``common.db.postgres``.

The pool hands out the connection returned last (LIFO): under light load the same few connections
serve and the rest sit idle (PostgreSQL may time them out) instead of being cycled through. A serving
SQLite database hardly uses its pool (it keeps one connection between transactions, see
``common.db.sqlite``); before that (migrations, tools) LIFO hands out the connection whose page cache
is still valid, since a connection drops its cache whenever another one has written.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

from sqlalchemy import Connection, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from common.db.database import DatabaseClosed, Fault
from common.db.outage import Generation, Outage
from common.errors import Aborted, AppError, Unavailable
from common.redaction import redacted


class PooledDatabase(ABC):
    system_name: ClassVar[str]  # OpenTelemetry's db.system.name
    concurrent_transactions: ClassVar[bool]  # see Database.concurrent_transactions
    writes_in_one_statement: ClassVar[bool]  # see Database.writes_in_one_statement

    def __init__(self, url: str, engine: Engine) -> None:
        self.url = url
        self.engine = engine
        self.outage = Outage(redacted(url))
        # The outage generation each transaction in progress began in (by its connection's id).
        self._began_in: dict[int, Generation] = {}
        self._disposed = False

    def _check_open(self) -> None:
        if self._disposed:
            raise DatabaseClosed(self.redacted_url())

    def redacted_url(self) -> str:
        return redacted(self.url)

    # What an error means: each backend's own words for it, read in one place.

    @abstractmethod
    def fault(self, error: BaseException) -> Fault | None:
        """What ``error``, raised at any point of a transaction, means; None for anything else (a bug)."""

    def refusal(self, error: BaseException) -> AppError | None:
        """What the caller is told for ``error``, if it is a database failure it may retry; None
        leaves it as it is (INTERNAL)."""
        fault = self.fault(error)
        if fault is Fault.CONFLICT:
            return Aborted("the change conflicted with a concurrent one; try again")
        if fault is Fault.BUSY:
            return self._busy()
        if fault is Fault.OUTAGE:
            return Unavailable("database unavailable, try again")
        return None

    def _busy(self) -> AppError:
        return Unavailable("database is busy, try again")

    # The end of every transaction.

    def end(
        self, conn: Connection, *, write: bool, commit: bool, failure: BaseException | None = None
    ) -> None:
        """Commit or roll back, and give the connection back; ``failure`` is what ended the work
        early, if anything. A connection an outage broke is discarded instead of pooled, and a
        rollback it makes fail is no error (the server drops the transaction with the session).
        Reads nothing of the connection but whether it is still valid: a connection lost in the
        middle of a transaction refuses everything else (SQLAlchemy's PendingRollbackError)."""
        began_in = self._began_in.pop(id(conn), None)
        try:
            if failure is not None and self._discard_if_lost(conn, failure, began_in):
                pass  # nothing to roll back on a connection that is gone
            elif commit:
                conn.commit()
                if write:
                    self._writes_work(began_in)
            else:
                self._roll_back(conn, began_in)
        except Exception as error:
            self._discard_if_lost(conn, error, began_in)
            raise
        finally:
            self._give_back(conn)

    def _roll_back(self, conn: Connection, began_in: Generation | None) -> None:
        try:
            conn.rollback()
        except DBAPIError as error:
            if not self._discard_if_lost(conn, error, began_in):
                raise

    def _give_back(self, conn: Connection) -> None:
        conn.close()

    def _began(self, conn: Connection) -> Connection:
        """Note the outage generation ``conn``'s transaction begins in."""
        self._began_in[id(conn)] = self.outage.generation
        return conn

    def _discard_if_lost(
        self, conn: Connection | None, error: BaseException, began_in: Generation | None = None
    ) -> bool:
        """If ``error`` is an outage: invalidate ``conn`` (never pooled again) and start the episode,
        unless it is one that ended after the transaction began (see ``Outage.begin``); True if so."""
        if self.fault(error) is not Fault.OUTAGE:
            return False
        if conn is not None and not conn.invalidated:
            conn.invalidate()
        self.outage.begin(error, began_in)
        return True

    # Readiness.

    def ping(self) -> bool:
        """True when the database answers a trivial query. Asked twice on a broken connection: with no
        pre-ping, a pooled connection the server has closed fails its first round trip (SQLAlchemy then
        replaces the pool's older connections), and the database may well answer on a fresh one."""
        for _ in range(2):
            try:
                with self.engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
                return True
            except DBAPIError as error:
                if self.fault(error) is not Fault.OUTAGE:
                    return False
        return False

    @abstractmethod
    async def is_ready(self) -> bool:
        """True when the database answers and, during an outage, takes writes again; never blocks the
        loop."""

    def _writes_work(self, began_in: Generation | None = None) -> None:
        if self.outage.end(began_in):
            # Connections opened during the outage go; new ones open afresh.
            self.close_connections()

    # Connections.

    def connections_in_use(self) -> int:
        """Connections checked out of the pool right now (for a metric)."""
        checkedout = getattr(self.engine.pool, "checkedout", None)
        return int(checkedout()) if callable(checkedout) else 0

    def close_connections(self) -> None:
        """Close every idle connection; the next transaction opens afresh. Connections in use are
        closed, not pooled, when given back."""
        self.engine.dispose()

    def dispose(self) -> None:
        self._disposed = True
        self.close_connections()


def say_begin_on_the_driver(engine: Engine, statement: Callable[[], str]) -> None:
    """Have ``engine`` start every transaction by sending ``statement()`` (e.g. ``BEGIN IMMEDIATE``)
    straight to the driver, which is in autocommit mode: BEGIN is ours to say, when we say it.

    This replaces the dialect's ``do_begin`` hook (a no-op for drivers that begin by themselves), the
    one SQLAlchemy calls inside ``Connection.begin()``: SQLAlchemy still wraps a failure as it does any
    statement's (a broken connection comes back invalidated). Not a "begin" event: any connection
    event makes SQLAlchemy dispatch events around every statement, and its statement machinery costs
    more than the BEGIN (a fifth of what SQLAlchemy cost per transaction, measured)."""

    def do_begin(dbapi_connection: Any) -> None:
        dbapi_connection.driver_connection.execute(statement())

    engine.dialect.do_begin = do_begin  # type: ignore[method-assign]
