"""SQLite, the embedded default: a file, WAL, one writer at a time, transactions inline on the loop.

A transaction runs inline on the event loop (a call costs microseconds; a thread hop costs more than
the work), one writer at a time per process (an ``asyncio.Lock`` plus ``BEGIN IMMEDIATE``, which takes
the write lock up front, so two writers never deadlock upgrading read locks). A file locked by
another process is waited for with ``asyncio.sleep`` between tries that never block (busy_timeout 0
while serving), up to ``SQLITE_BUSY_BUDGET_S``, then UNAVAILABLE.

Once serving, transactions in a process never overlap (each runs inline on the loop, start to end),
so one connection is kept between them instead of a pool check-out, check-in and reset each time, and
``BEGIN`` goes straight to the driver (a fifth of what SQLAlchemy cost per transaction). A connection
that broke is not kept. A file that refuses writes (read-only, a disk error) is an outage: the
connection is discarded and the database is not ready until a write works again.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, NullPool, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError, DBAPIError, OperationalError

from common.backoff import Backoff, Pauses
from common.db.database import Database, DatabaseUnusable, Fault
from common.db.pooled import PooledDatabase, say_begin_on_the_driver
from common.errors import AppError, Unavailable

# Start-up (migrations) may wait for another process like any synchronous program; once serving, the
# loop must never block, so SQLite answers "busy" at once and ``run`` waits with asyncio.sleep.
SQLITE_BUSY_TIMEOUT_MS = 5000
SQLITE_BUSY_BUDGET_S = 5.0
SQLITE_BUSY_BACKOFF = Backoff(initial_s=0.001, max_s=0.05)
T = TypeVar("T")


class DatabaseBusy(Unavailable):
    """SQLite's file is locked by another process: nothing is wrong, the transaction may be tried again."""


class _BeginStatement(threading.local):
    """What the next BEGIN said on this thread is: ``BEGIN IMMEDIATE`` for a write transaction (set
    around its ``Connection.begin()``) and inside ``immediate()`` (a migration), plain ``BEGIN``
    otherwise. Per thread because ``Connection.begin()`` says it on the thread that calls it; tests and
    tools may begin from other threads than the loop's."""

    statement = "BEGIN"

    @contextmanager
    def immediate(self) -> Iterator[None]:
        before, self.statement = self.statement, "BEGIN IMMEDIATE"
        try:
            yield
        finally:
            self.statement = before


class SqliteDatabase(PooledDatabase):
    system_name = "sqlite"
    # One transaction at a time, inline on the event loop: a scrape would nearly always count 0.
    concurrent_transactions = False
    # No data-modifying WITH; its statements are calls into the library, not round trips.
    writes_in_one_statement = False

    def __init__(self, url: str, *, pool_size: int = 10, max_overflow: int = 5) -> None:
        parsed = make_url(url)
        if parsed.database and parsed.database != ":memory:":
            directory = Path(parsed.database).parent
            try:
                directory.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise DatabaseUnusable(f"cannot create directory {directory}: {error.strerror}") from error
        super().__init__(
            url, create_engine(url, pool_size=pool_size, max_overflow=max_overflow, pool_use_lifo=True)
        )
        self._busy_timeout_ms = SQLITE_BUSY_TIMEOUT_MS
        self._begin_statement = _BeginStatement()
        # Made on first use, on the loop that serves (asyncio primitives belong to one loop).
        self._write_lock: asyncio.Lock | None = None
        # Once serving: the connection kept between transactions (see the module docstring).
        self._keep = False
        self._kept: Connection | None = None
        self._kept_lock = threading.Lock()  # tests and tools may call begin/end from other threads
        self._tune()

    def _tune(self) -> None:
        @event.listens_for(self.engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Take transaction control from the driver so that BEGIN is ours to say.
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={self._busy_timeout_ms}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        say_begin_on_the_driver(self.engine, lambda: self._begin_statement.statement)

    # Start-up.

    def prepare(self, migrate: Callable[[Database], None]) -> None:
        try:
            migrate(self)
        except DatabaseError as error:
            if self.fault(error) is Fault.BUSY:
                raise  # another process held the file longer than the busy timeout: not the setting
            raise DatabaseUnusable(f"cannot use it as a SQLite database: {error.orig}") from error

    @contextmanager
    def schema_change(self, name: str) -> Iterator[Connection]:
        # BEGIN IMMEDIATE: processes sharing the file migrate one after the other.
        with self.engine.connect() as conn, self._begin_statement.immediate():
            yield conn

    def serving(self) -> None:
        """From now on transactions run from an event loop: SQLite must answer "busy" without waiting
        (``run`` waits between tries instead), so connections opened for start-up are replaced."""
        self._busy_timeout_ms = 0
        self._keep = True
        self.close_connections()

    # Transactions.

    async def run(self, transaction: Callable[[], T], *, write: bool) -> T:
        self._check_open()
        if not write:
            return await self._retry_while_busy(transaction)
        if self._write_lock is None:
            self._write_lock = asyncio.Lock()
        async with self._write_lock:  # one writer per process: the others wait here, not in SQLite
            return await self._retry_while_busy(transaction)

    async def _retry_while_busy(self, transaction: Callable[[], T]) -> T:
        pauses = Pauses(SQLITE_BUSY_BACKOFF, time.monotonic() + SQLITE_BUSY_BUDGET_S)
        while True:
            try:
                return transaction()
            except DatabaseBusy:
                # Rolled back whole and free of outside effects, so trying it again is safe.
                if not await pauses.wait():
                    raise

    def begin(self, *, write: bool) -> Connection:
        """A connection inside a fresh transaction (``BEGIN IMMEDIATE`` for a write)."""
        try:
            conn = self._take_kept() or self.engine.connect()
        except DBAPIError as error:
            self._discard_if_lost(None, error)  # the file cannot be opened: the episode starts
            raise
        # Said around Connection.begin(), not with ``immediate()``: a generator per transaction costs
        # more than the rest of this method.
        self._begin_statement.statement = "BEGIN IMMEDIATE" if write else "BEGIN"
        try:
            conn.begin()
        except BaseException as error:
            # BEGIN failed (e.g. busy): give the connection back now, not at the next GC cycle.
            self._discard_if_lost(conn, error)
            conn.close()
            raise
        finally:
            self._begin_statement.statement = "BEGIN"
        return self._began(conn)

    def fault(self, error: BaseException) -> Fault | None:
        if not isinstance(error, DBAPIError):
            return None
        if _is_contention(error):
            return Fault.BUSY
        if error.connection_invalidated or isinstance(error, OperationalError):
            return Fault.OUTAGE  # opened read-only, a disk error, a file gone: not this connection again
        return None

    def _busy(self) -> AppError:
        return DatabaseBusy("database is busy, try again")  # ``run`` tries again for a while

    # Connections.

    def _take_kept(self) -> Connection | None:
        with self._kept_lock:
            conn, self._kept = self._kept, None
        return conn

    def _give_back(self, conn: Connection) -> None:
        if self._keep and not conn.invalidated and not conn.in_transaction():
            with self._kept_lock:
                if self._kept is None:
                    self._kept = conn
                    return
        conn.close()

    def connections_in_use(self) -> int:
        kept = 0 if self._kept is None else 1  # checked out, but idle between transactions
        return super().connections_in_use() - kept

    def close_connections(self) -> None:
        """Close every idle connection, the kept one included; the next transaction opens afresh."""
        kept = self._take_kept()
        if kept is not None:
            kept.close()
        super().close_connections()

    def dispose(self) -> None:
        self._keep = False
        super().dispose()

    # Readiness.

    async def is_ready(self) -> bool:
        """Never waits for a lock: a write lock held elsewhere is contention, not unreadiness."""
        if not self.ping():
            return False
        if not self.outage.ongoing:
            return True
        if not await self._takes_writes():
            return False
        self._writes_work()
        return True

    async def _takes_writes(self) -> bool:
        """A write rolled back, on a fresh connection (pooled ones may have opened the file read-only),
        under the process's write lock so it never waits on our own writers."""
        if self._write_lock is None:
            self._write_lock = asyncio.Lock()
        try:
            await asyncio.wait_for(self._write_lock.acquire(), 1.0)
        except asyncio.TimeoutError:
            return False  # busy with real writes: their outcome will tell
        try:
            probe = create_engine(self.url, poolclass=NullPool, connect_args={"timeout": 0})
            try:
                with probe.connect() as conn:
                    version = conn.exec_driver_sql("PRAGMA user_version").scalar()
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                    conn.exec_driver_sql(f"PRAGMA user_version = {int(version or 0)}")
                    conn.exec_driver_sql("ROLLBACK")
                return True
            except DBAPIError as error:
                return _is_contention(error)  # someone else is writing: the file takes writes
            finally:
                probe.dispose()
        finally:
            self._write_lock.release()


def _is_contention(error: DBAPIError) -> bool:
    text = str(error.orig).lower()
    return "database is locked" in text or "database is busy" in text or "database table is locked" in text
