"""PostgreSQL, the production database: a sized pool, transactions on a small thread pool.

Transactions run on a small thread pool (a round trip would stall every call on the loop); row-level
concurrency is the database's business. No pre-ping (a ``SELECT 1`` round trip per transaction): the
driver runs in autocommit mode and ``BEGIN`` is ours to say, so it is the first round trip of every
transaction; a pooled connection the server has closed fails there, before anything is done, and the
transaction begins again on a fresh one (three round trips fewer per order). A connection that failed
with a connection-level error is discarded, never pooled again, and the database counts as not ready
until it takes writes again.
"""

from __future__ import annotations

import asyncio
import contextvars
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, create_engine, event, text
from sqlalchemy.exc import DBAPIError, OperationalError

from common.db.database import Database, Fault
from common.db.pooled import PooledDatabase, say_begin_on_the_driver

# SQLSTATEs (PostgreSQL's appendix "Error Codes") and what they mean here.
_CONFLICT = {"40001", "40P01"}  # serialization_failure, deadlock_detected
_BUSY = {"55P03", "57014"}  # lock_not_available, query_canceled (a statement timeout)
T = TypeVar("T")


class PostgresDatabase(PooledDatabase):
    system_name = "postgresql"

    def __init__(
        self, url: str, *, pool_size: int = 10, max_overflow: int = 5, threads: int | None = None
    ) -> None:
        super().__init__(
            url,
            create_engine(
                url, pool_size=pool_size, max_overflow=max_overflow, pool_timeout=5, pool_use_lifo=True
            ),
        )
        self._threads: ThreadPoolExecutor | None = None
        self._thread_count = threads or pool_size

        @event.listens_for(self.engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # The driver would send its own BEGIN before the first statement; ours comes at once instead,
            # and COMMIT/ROLLBACK are sent whenever a transaction is open, autocommit or not.
            dbapi_conn.autocommit = True

        say_begin_on_the_driver(self.engine, lambda: "BEGIN")

    # Start-up.

    def prepare(self, migrate: Callable[[Database], None]) -> None:
        migrate(self)

    @contextmanager
    def schema_change(self, name: str) -> Iterator[Connection]:
        # A session advisory lock serialises replicas that start together.
        key = zlib.crc32(name.encode())
        with self.engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
            conn.commit()
            try:
                yield conn
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()

    def serving(self) -> None:
        """Nothing changes: the pool and the threads serve start-up and calls alike."""

    # Transactions.

    async def run(self, transaction: Callable[[], T], *, write: bool) -> T:
        if self._threads is None:
            self._threads = ThreadPoolExecutor(self._thread_count, thread_name_prefix="db")
        context = contextvars.copy_context()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, context.run, transaction)

    def begin(self, *, write: bool) -> Connection:
        try:
            return self._begin(first_try=True)
        except DBAPIError as error:
            if self.fault(error) is not Fault.OUTAGE:
                raise
        # The server closed that pooled connection (a restart, a terminated backend), and the pool's
        # other idle ones are as old: all replaced, and the transaction begins on a fresh one.
        self.engine.dispose()
        return self._begin(first_try=False)

    def _begin(self, *, first_try: bool) -> Connection:
        conn = self.engine.connect()
        try:
            conn.begin()
        except BaseException as error:
            if first_try and self.fault(error) is Fault.OUTAGE:
                # A stale pooled connection, not an outage: ``begin`` tries a fresh one. On that one
                # the same failure is an outage, reported as any other.
                if not conn.invalidated:
                    conn.invalidate()
            else:
                self._discard_if_lost(conn, error)
            conn.close()
            raise
        return conn

    def fault(self, error: BaseException) -> Fault | None:
        if not isinstance(error, DBAPIError):
            return None
        state = getattr(error.orig, "sqlstate", None)
        if state in _CONFLICT:
            return Fault.CONFLICT
        if state in _BUSY:
            return Fault.BUSY
        if error.connection_invalidated or isinstance(error, OperationalError):
            return Fault.OUTAGE
        return None

    # Readiness.

    async def is_ready(self) -> bool:
        if not await asyncio.to_thread(self.ping):
            return False
        if self.outage.ongoing:
            self._writes_work()
        return True

    def dispose(self) -> None:
        if self._threads is not None:
            self._threads.shutdown(wait=True)
            self._threads = None
        super().dispose()
