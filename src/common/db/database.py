"""One engine per service, tuned per backend, and the one place where a transaction runs.

A transaction is a short synchronous function (no ``await`` inside it); ``Database.run`` runs it where
the backend wants it, from the server's event loop:
SQLite: inline on the loop (a call costs microseconds; a thread hop costs more than the work), WAL, one
writer at a time per process (an ``asyncio.Lock`` plus ``BEGIN IMMEDIATE``). A file locked by another
process is waited for with ``asyncio.sleep`` between tries that never block (busy_timeout 0 while
serving), up to ``SQLITE_BUSY_BUDGET_S``, then UNAVAILABLE.
PostgreSQL: on a small thread pool (a round trip would stall every call on the loop), a sized pool;
row-level concurrency is the database's business. No pre-ping (a ``SELECT 1`` round trip per
transaction): the driver runs in autocommit mode and ``BEGIN`` is ours to say, so it is the first
round trip of every transaction; a pooled connection the server has closed fails there, before
anything is done, and the transaction begins again on a fresh one (issue 15: three round trips fewer
per order).
Both: a connection that failed with a connection-level error is discarded, never pooled again, and
the database counts as not ready until it takes writes again (see ``common.db.outage``).
SQLite, once serving: transactions in a process never overlap (each runs inline on the loop, start to
end), so one connection is kept between them instead of a pool check-out, check-in and reset each
time, and ``BEGIN`` goes straight to the driver (issue 15: a fifth of what SQLAlchemy cost per
transaction). A connection that broke is not kept.
Both: the pool hands out the connection returned last (LIFO). On SQLite that is the one whose page
cache is still valid, since a connection drops its cache whenever another one has written; under
light load the rest sit idle (and PostgreSQL may time them out) instead of being cycled through.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, NullPool, create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DatabaseError, DBAPIError

from common.db.outage import Outage, is_connection_error, is_contention
from common.db.urls import redacted
from common.errors import Unavailable

# Start-up (migrations) may wait for another process like any synchronous program; once serving, the
# loop must never block, so SQLite answers "busy" at once and ``run`` waits with asyncio.sleep.
SQLITE_BUSY_TIMEOUT_MS = 5000
SQLITE_BUSY_BUDGET_S = 5.0
SQLITE_BUSY_FIRST_PAUSE_S = 0.001
SQLITE_BUSY_MAX_PAUSE_S = 0.05
T = TypeVar("T")


class DatabaseBusy(Unavailable):
    """SQLite's file is locked by another process: nothing is wrong, the transaction may be tried again."""


class DatabaseUnusable(Exception):
    """The configured SQLite file cannot be used at all (its directory cannot be made, it is not a
    SQLite database): a configuration problem, not an outage to wait out."""


class Database:
    def __init__(
        self, url: str, *, pool_size: int = 10, max_overflow: int = 5, threads: int | None = None
    ) -> None:
        parsed = make_url(url)
        self.url = url
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        # OpenTelemetry's db.system.name: "sqlite" or "postgresql".
        self.system_name = "sqlite" if self.is_sqlite else "postgresql"
        self._busy_timeout_ms = SQLITE_BUSY_TIMEOUT_MS
        # Made on first use, on the loop that serves (asyncio primitives belong to one loop).
        self._write_lock: asyncio.Lock | None = None
        self._threads: ThreadPoolExecutor | None = None
        self._thread_count = threads or pool_size
        # SQLite once serving: the connection kept between transactions (see the module docstring).
        self._keep = False
        self._kept: Connection | None = None
        self._kept_lock = threading.Lock()  # tests and tools may call begin/end from other threads
        self.outage = Outage(make_url(url).render_as_string(hide_password=True))
        if self.is_sqlite:
            if parsed.database and parsed.database != ":memory:":
                directory = Path(parsed.database).parent
                try:
                    directory.mkdir(parents=True, exist_ok=True)
                except OSError as error:
                    raise DatabaseUnusable(
                        f"cannot create directory {directory}: {error.strerror}"
                    ) from error
            self.engine = create_engine(
                url, pool_size=pool_size, max_overflow=max_overflow, pool_use_lifo=True
            )
            _tune_sqlite(self.engine, lambda: self._busy_timeout_ms)
        else:
            self.engine = create_engine(
                url, pool_size=pool_size, max_overflow=max_overflow, pool_timeout=5, pool_use_lifo=True
            )
            _tune_postgres(self.engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def redacted_url(self) -> str:
        return redacted(self.url)

    def serving(self) -> None:
        """From now on transactions run from an event loop: SQLite must answer "busy" without waiting
        (``run`` waits between tries instead), so connections opened for start-up are replaced."""
        if self.is_sqlite:
            self._busy_timeout_ms = 0
            self._keep = True
            self.close_connections()

    async def run(self, transaction: Callable[[], T], *, write: bool) -> T:
        """Run ``transaction`` (synchronous, opening and ending its own transaction) where this backend
        runs transactions; the caller's context variables (deadline, correlation id) go with it."""
        if not self.is_sqlite:
            if self._threads is None:
                self._threads = ThreadPoolExecutor(self._thread_count, thread_name_prefix="db")
            context = contextvars.copy_context()
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._threads, context.run, transaction)
        if not write:
            return await self._run_sqlite(transaction)
        if self._write_lock is None:
            self._write_lock = asyncio.Lock()
        async with self._write_lock:  # one writer per process: the others wait here, not in SQLite
            return await self._run_sqlite(transaction)

    async def _run_sqlite(self, transaction: Callable[[], T]) -> T:
        give_up_at = time.monotonic() + SQLITE_BUSY_BUDGET_S
        pause = SQLITE_BUSY_FIRST_PAUSE_S
        while True:
            try:
                return transaction()
            except DatabaseBusy:
                # Rolled back whole and free of outside effects, so trying it again is safe.
                wait = min(pause, give_up_at - time.monotonic())
                if wait <= 0:
                    raise
                await asyncio.sleep(wait)
                pause = min(pause * 2, SQLITE_BUSY_MAX_PAUSE_S)

    def begin(self, *, write: bool) -> Connection:
        """A connection inside a fresh transaction (``BEGIN IMMEDIATE`` for a SQLite write)."""
        try:
            return self._begin(write, first_try=True)
        except DBAPIError as error:
            if self.is_sqlite or not is_connection_error(error):
                raise
        # PostgreSQL: the server closed that pooled connection (a restart, a terminated backend), and the
        # pool's other idle ones are as old: all replaced, and the transaction begins on a fresh one.
        self.engine.dispose()
        return self._begin(write, first_try=False)

    def _begin(self, write: bool, *, first_try: bool) -> Connection:
        conn: Connection | None = None
        try:
            conn = self._take_kept() or self.engine.connect()
            conn.info["eshop_write"] = write
            conn.begin()
            return conn
        except BaseException as error:
            if conn is not None:
                # BEGIN failed (e.g. SQLite busy): give the connection back now, not at the next GC cycle.
                conn.info.pop("eshop_write", None)
                if first_try and not self.is_sqlite and is_connection_error(error):
                    # A stale pooled connection, not an outage: ``begin`` tries a fresh one. On that one
                    # the same failure is an outage, reported as any other.
                    if not conn.invalidated:
                        conn.invalidate()
                else:
                    self._discard_if_broken(conn, error)
                conn.close()
            raise

    def end(self, conn: Connection, *, commit: bool, failure: BaseException | None = None) -> None:
        """Commit or roll back, and give the connection back; ``failure`` is what ended the work
        early, if anything: a connection it broke is discarded instead of pooled."""
        write = conn.info.pop("eshop_write", False)
        try:
            if failure is not None and self._discard_if_broken(conn, failure):
                pass  # nothing to roll back on a connection that is gone
            elif commit:
                conn.commit()
                if write:
                    self._writes_work()
            else:
                conn.rollback()
        except DBAPIError as error:
            self._discard_if_broken(conn, error)
            raise
        finally:
            self._keep_or_close(conn)

    def _take_kept(self) -> Connection | None:
        with self._kept_lock:
            conn, self._kept = self._kept, None
        return conn

    def _keep_or_close(self, conn: Connection) -> None:
        if self._keep and not conn.invalidated and not conn.in_transaction():
            with self._kept_lock:
                if self._kept is None:
                    self._kept = conn
                    return
        conn.close()

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
                if not is_connection_error(error):
                    return False
        return False

    def connections_in_use(self) -> int:
        """Connections checked out of the pool right now (for a metric)."""
        checkedout = getattr(self.engine.pool, "checkedout", None)
        kept = 0 if self._kept is None else 1  # checked out, but idle between transactions
        return int(checkedout()) - kept if callable(checkedout) else 0

    async def is_ready(self) -> bool:
        """True when the database answers and, after a failure that was not contention, takes writes
        again. The write probe runs only during such an outage: a ready database is never locked by it.
        Never blocks the loop: PostgreSQL is asked from a thread, SQLite never waits for a lock."""
        if self.is_sqlite:
            if not self.ping():
                return False
        elif not await asyncio.to_thread(self.ping):
            return False
        return not self.outage.ongoing or await self._probe_writes()

    async def _probe_writes(self) -> bool:
        if self.is_sqlite and not await self._sqlite_takes_writes():
            return False
        self._writes_work()
        return True

    async def _sqlite_takes_writes(self) -> bool:
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
                return is_contention(error)  # someone else is writing: the file takes writes
            finally:
                probe.dispose()
        finally:
            self._write_lock.release()

    def _discard_if_broken(self, conn: Connection, error: BaseException) -> bool:
        if not is_connection_error(error):
            return False
        if not conn.invalidated:
            conn.invalidate()
        self.outage.begin(error)
        return True

    def _writes_work(self) -> None:
        if self.outage.end():
            # Connections opened during the outage (SQLite: read-only) go; new ones open afresh.
            self.close_connections()

    def close_connections(self) -> None:
        """Close every idle connection, the kept one included; the next transaction opens afresh."""
        kept = self._take_kept()
        if kept is not None:
            kept.close()
        self.engine.dispose()

    def dispose(self) -> None:
        if self._threads is not None:
            self._threads.shutdown(wait=True)
            self._threads = None
        self._keep = False
        self.close_connections()


def _tune_sqlite(engine: Engine, busy_timeout_ms: Callable[[], int]) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control from the driver so that BEGIN is ours to say (see _say_begin).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms()}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    # IMMEDIATE takes the write lock up front, so two writers never deadlock upgrading read locks.
    _say_begin(engine, lambda info: "BEGIN IMMEDIATE" if info.get("eshop_write") else "BEGIN")


def _tune_postgres(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # The driver would send its own BEGIN before the first statement; ours comes at once instead
        # (see _say_begin), and COMMIT/ROLLBACK are sent whenever a transaction is open, autocommit or not.
        dbapi_conn.autocommit = True

    _say_begin(engine, lambda _info: "BEGIN")


def _say_begin(engine: Engine, statement: Callable[[dict[Any, Any]], str]) -> None:
    """Every transaction's BEGIN, said by the dialect straight to the driver (the driver itself is in
    autocommit mode). Not a "begin" event: any connection event makes SQLAlchemy dispatch events
    around every statement, and its statement machinery costs more than the BEGIN. SQLAlchemy wraps a
    failure as for any statement (a broken connection comes back invalidated)."""

    def do_begin(dbapi_connection: Any) -> None:
        # The pool's proxy: its ``info`` is the Connection's (where ``begin`` notes a write).
        dbapi_connection.driver_connection.execute(statement(dbapi_connection.info))

    engine.dialect.do_begin = do_begin  # type: ignore[method-assign]


def database_resource(
    url: str,
    pool_size: int,
    max_overflow: int,
    migrate: Callable[[Database], None],
    threads: int | None = None,
) -> Iterator[Database]:
    """A dependency-injector Resource: open, bring the schema up to date, dispose on shutdown."""
    database = Database(url, pool_size=pool_size, max_overflow=max_overflow, threads=threads)
    try:
        migrate(database)
    except DatabaseError as error:
        if database.is_sqlite and not is_contention(error):
            database.dispose()
            raise DatabaseUnusable(f"cannot use it as a SQLite database: {error.orig}") from error
        raise
    database.serving()
    yield database
    database.dispose()
