"""One engine per service, tuned per backend.

SQLite: WAL, and one writer at a time per process (a lock plus ``BEGIN IMMEDIATE``), because SQLite's
own busy-wait sleeps in millisecond steps and wrecks tail latency when threads race for the write lock.
PostgreSQL: a sized pool with pre-ping; row-level concurrency is the database's business.
Both: a connection that failed with a connection-level error is discarded, never pooled again, and
the database counts as not ready until it takes writes again (see ``common.db.outage``).
Both: the pool hands out the connection returned last (LIFO). On SQLite that is the one whose page
cache is still valid, since a connection drops its cache whenever another one has written; under
light load the rest sit idle (and PostgreSQL may time them out) instead of being cycled through.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, NullPool, create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DatabaseError, DBAPIError

from common.db.outage import Outage, is_connection_error, is_contention
from common.db.urls import redacted
from common.errors import Unavailable

SQLITE_BUSY_TIMEOUT_MS = 5000


class DatabaseUnusable(Exception):
    """The configured SQLite file cannot be used at all (its directory cannot be made, it is not a
    SQLite database): a configuration problem, not an outage to wait out."""


class Database:
    def __init__(self, url: str, *, pool_size: int = 10, max_overflow: int = 5) -> None:
        parsed = make_url(url)
        self.url = url
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self._write_lock = threading.Lock()
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
            _tune_sqlite(self.engine)
        else:
            self.engine = create_engine(
                url,
                pool_size=pool_size,
                max_overflow=max_overflow,
                pool_pre_ping=True,
                pool_timeout=5,
                pool_use_lifo=True,
            )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def redacted_url(self) -> str:
        return redacted(self.url)

    def begin(self, *, write: bool) -> Connection:
        """A connection inside a fresh transaction; for SQLite writes, the process's write lock is held
        until ``end`` is called."""
        locked = False
        if write and self.is_sqlite:
            if not self._write_lock.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000):
                raise Unavailable("database is busy, try again")
            locked = True
        conn: Connection | None = None
        try:
            conn = self.engine.connect()
            conn.info["eshop_write"] = write
            conn.begin()
            return conn
        except BaseException as error:
            if conn is not None:
                # BEGIN failed (e.g. SQLite busy): give the connection back now, not at the next GC cycle.
                conn.info.pop("eshop_write", None)
                self._discard_if_broken(conn, error)
                conn.close()
            if locked:
                self._write_lock.release()
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
            conn.close()
            if write and self.is_sqlite:
                self._write_lock.release()

    def ping(self) -> bool:
        """True when the database answers a trivial query."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except DBAPIError:
            return False

    def is_ready(self) -> bool:
        """True when the database answers and, after a failure that was not contention, takes writes
        again. The write probe runs only during such an outage: a ready database is never locked by it."""
        if not self.ping():
            return False
        return not self.outage.ongoing or self._probe_writes()

    def _probe_writes(self) -> bool:
        if self.is_sqlite and not self._sqlite_takes_writes():
            return False
        self._writes_work()
        return True

    def _sqlite_takes_writes(self) -> bool:
        """A write rolled back, on a fresh connection (pooled ones may have opened the file read-only),
        under the process's write lock so it never waits on our own writers."""
        if not self._write_lock.acquire(timeout=1.0):
            return False  # busy with real writes: their outcome will tell
        try:
            probe = create_engine(self.url, poolclass=NullPool, connect_args={"timeout": 1.0})
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
            self.engine.dispose()

    def dispose(self) -> None:
        self.engine.dispose()


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control from the driver so that BEGIN is ours to say (see _on_begin).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # IMMEDIATE takes the write lock up front, so two writers never deadlock upgrading read locks.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("eshop_write") else "BEGIN")


def database_resource(
    url: str, pool_size: int, max_overflow: int, migrate: Callable[[Database], None]
) -> Iterator[Database]:
    """A dependency-injector Resource: open, bring the schema up to date, dispose on shutdown."""
    database = Database(url, pool_size=pool_size, max_overflow=max_overflow)
    try:
        migrate(database)
    except DatabaseError as error:
        if database.is_sqlite and not is_contention(error):
            database.dispose()
            raise DatabaseUnusable(f"cannot use it as a SQLite database: {error.orig}") from error
        raise
    yield database
    database.dispose()
