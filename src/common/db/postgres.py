"""PostgreSQL, the production database: transactions on the event loop (asyncpg), a sized pool, and
every error the driver or SQLAlchemy raises classified here, at whatever point of a transaction it came.

A transaction is the same short synchronous function as on SQLite, run in a greenlet on the event loop
(``greenlet_spawn``, what SQLAlchemy's ``AsyncConnection.run_sync`` does) on the synchronous face of an
asyncio engine on ``asyncpg``: each round trip is awaited on the loop, where the other calls go on,
instead of a thread hop per transaction (measured: about a fifth less CPU per order than psycopg on a
thread pool; docs/performance.md). At most ``concurrent`` transactions are in progress at once, the
others wait their turn. Row-level concurrency is the database's business. What begins a transaction
outside ``run`` (start-up and migrations, the readiness probes, tools, tests' synchronous units of
work) gets a psycopg connection of a pool of its own, with the same statements and the same meanings.

No pre-ping (a ``SELECT 1`` round trip per transaction): ``BEGIN`` is ours to say, at once, so it is the
first round trip of every transaction; a pooled connection the server has closed fails there, before
anything is done, and the transaction begins again on a fresh one (three round trips fewer per order).

Outages: a connection lost (a backend terminated, the server restarted or shut down, a network cut)
and a database that refuses writes (a hot standby after a failover, ``default_transaction_read_only``:
SQLSTATE 25006) are the same thing to a caller: UNAVAILABLE, the connection discarded, the episode
logged once, readiness NOT_SERVING until a session of its own finds the database taking writes; then
the pool is emptied, so no session opened during the outage (read-only, say) is used again.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, NullPool, create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.util.concurrency import await_only, greenlet_spawn, in_greenlet

from common.backoff import Backoff, Pauses
from common.db.database import Database, DatabaseUnreachable, DatabaseUnusable, Fault
from common.db.pooled import PooledDatabase, say_begin_on_the_driver

# A server that does not answer a connection attempt (a host that drops packets) is given up on after
# this long, unless the URL says otherwise (``?connect_timeout=``): libpq's default is to wait forever.
CONNECT_TIMEOUT_S = 5
# At start, a server that does not answer yet (starting together with the service) is tried again for
# this long before the service gives up (exit 1); one that answers and refuses is not (exit 2). Each
# attempt's connect_timeout is cut to the time left (libpq waits at least 2 s), and none starts with
# less than a second left: the wait ends within START_WAIT_S + 1 s.
START_WAIT_S = 5.0
START_BACKOFF = Backoff(initial_s=0.1, max_s=1.0)
_LIBPQ_MIN_TIMEOUT_S = 2
_LAST_ATTEMPT_S = 1.0
# A host name that does not resolve (not a DNS server that is slow or down): no use waiting for it.
_UNKNOWN_HOST = re.compile(r"Name or service not known|nodename nor servname|No address associated")

# SQLSTATEs (PostgreSQL's appendix "Error Codes") and what they mean here.
_CONFLICT = {"40001", "40P01"}  # serialization_failure, deadlock_detected
_BUSY = {"55P03", "57014"}  # lock_not_available, query_canceled (a statement timeout)
_OUTAGE = {
    "25006",  # read_only_sql_transaction: a hot standby, default_transaction_read_only
    "25P03",  # idle_in_transaction_session_timeout: the server closed the session
    "57P01",  # admin_shutdown: pg_terminate_backend, a fast or smart shutdown
    "57P02",  # crash_shutdown
    "57P03",  # cannot_connect_now: starting up, shutting down, in recovery
    "57P04",  # database_dropped
    "57P05",  # idle_session_timeout
}
_OUTAGE_CLASSES = ("08", "53", "58")  # connection exception, insufficient resources, system error
# The server's reasons for refusing a connection that mean "not now" rather than "not with this setting".
_NOT_NOW = re.compile(r"starting up|shutting down|recovery|too many clients|connection slots", re.IGNORECASE)
# What the server says is not ready to write, asked of a session: a standby, or read-only by default.
_TAKES_WRITES = text("SELECT NOT pg_is_in_recovery() AND current_setting('transaction_read_only') = 'off'")
T = TypeVar("T")


class PostgresDatabase(PooledDatabase):
    system_name = "postgresql"
    concurrent_transactions = True
    writes_in_one_statement = True

    def __init__(
        self, url: str, *, pool_size: int = 10, max_overflow: int = 5, concurrent: int | None = None
    ) -> None:
        """``concurrent``: transactions in progress at once (default ``pool_size``)."""
        connect_args: dict[str, Any] = (
            {} if "connect_timeout" in make_url(url).query else {"connect_timeout": CONNECT_TIMEOUT_S}
        )
        self._connect_args = connect_args
        super().__init__(
            url,
            create_engine(
                url,
                pool_size=pool_size,
                max_overflow=max_overflow,
                pool_timeout=5,
                pool_use_lifo=True,
                connect_args=connect_args,
            ),
        )
        # A session of its own for each readiness probe during an outage: the database's settings of now.
        self._probe = create_engine(url, poolclass=NullPool, connect_args=connect_args)
        # The transactions ``run`` runs, on the loop (module docstring).
        self._on_loop = _loop_engine(url, pool_size=pool_size, max_overflow=max_overflow)
        self._concurrent = concurrent or pool_size
        self._turns: asyncio.Semaphore | None = None  # made on the serving loop
        self._dispose_on_loop = False

        @event.listens_for(self.engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # The driver would send its own BEGIN before the first statement; ours comes at once instead,
            # and COMMIT/ROLLBACK are sent whenever a transaction is open, autocommit or not.
            dbapi_conn.autocommit = True

        say_begin_on_the_driver(self.engine, lambda: "BEGIN")

    # Start-up.

    def prepare(self, migrate: Callable[[Database], None]) -> None:
        self._wait_until_reachable()
        try:
            migrate(self)
        except DBAPIError as error:
            if self.fault(error) is Fault.OUTAGE:  # lost, or read-only (a standby): not now
                raise DatabaseUnreachable(f"cannot migrate it now: {_reason(error)}") from error
            raise DatabaseUnusable(f"cannot migrate it: {_reason(error)}") from error

    def _wait_until_reachable(self) -> None:
        give_up_at = time.monotonic() + START_WAIT_S
        pauses = Pauses(START_BACKOFF, give_up_at)
        engine = create_engine(self.url, poolclass=NullPool, connect_args=self._connect_args)
        event.listen(engine, "do_connect", _cut_connect_timeout(give_up_at))
        try:
            while True:
                try:
                    with engine.connect():
                        return
                except DBAPIError as error:
                    refused = _refused_by_server(error)
                    if refused is not None and not _NOT_NOW.search(refused):
                        raise DatabaseUnusable(
                            f"the database server refused the connection: {refused}"
                        ) from error
                    if _UNKNOWN_HOST.search(_reason(error)):
                        raise DatabaseUnreachable(f"unknown database host: {_reason(error)}") from error
                    if not pauses.wait_blocking() or give_up_at - time.monotonic() < _LAST_ATTEMPT_S:
                        raise DatabaseUnreachable(
                            f"no database server answered within {START_WAIT_S:g} s: {_reason(error)}"
                        ) from error
        finally:
            engine.dispose()

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
                if not conn.invalidated:  # a lost session has lost its lock too
                    conn.rollback()  # whatever a failed migration left open
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    conn.commit()

    def serving(self) -> None:
        """Nothing changes: calls' transactions run on the loop from the first (``run``)."""

    # Transactions.

    async def run(self, transaction: Callable[[], T], *, write: bool) -> T:
        self._check_open()  # never a pool reopened behind the stop
        if self._turns is None:
            self._turns = asyncio.Semaphore(self._concurrent)
        async with self._turns:
            self._check_open()  # a turn that came after the stop
            # The greenlet runs in the task's context: the deadline and correlation id go with it.
            return await greenlet_spawn(transaction)

    def begin(self, *, write: bool) -> Connection:
        engine = self._on_loop if in_greenlet() else self.engine
        if engine is self._on_loop and self._dispose_on_loop:
            self._dispose_on_loop = False
            engine.dispose()
        try:
            return self._began(self._begin(engine, first_try=True))
        except DBAPIError as error:
            if self.fault(error) is not Fault.OUTAGE:
                raise
        # The server closed that pooled connection (a restart, a terminated backend), and the pool's
        # other idle ones are as old: all replaced, and the transaction begins on a fresh one.
        engine.dispose()
        try:
            return self._began(self._begin(engine, first_try=False))
        except DBAPIError as error:
            self._discard_if_lost(None, error)  # no connection at all: the episode starts
            raise

    def _begin(self, engine: Engine, *, first_try: bool) -> Connection:
        conn = engine.connect()
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
        if isinstance(error, PoolTimeout):
            return Fault.BUSY  # every pooled connection in use for pool_timeout: overloaded, not broken
        if isinstance(error, DBAPIError):
            if error.connection_invalidated:
                return Fault.OUTAGE  # SQLAlchemy saw the connection closed or broken
            state = getattr(error.orig, "sqlstate", None)
            if state is None:
                # The driver's own failure (connecting, a closed socket), not a server's answer.
                return Fault.OUTAGE if isinstance(error, OperationalError | InterfaceError) else None
        elif isinstance(error, OSError):
            return Fault.OUTAGE  # asyncpg's failure to reach the server, raised as it is (refused, a timeout)
        elif type(error).__module__.startswith("asyncpg"):
            # asyncpg's own error raised as it is (making a connection): the server's refusal, or its
            # own failure (a connection closed under it).
            state = getattr(error, "sqlstate", None)
            if state is None:
                return Fault.OUTAGE
        else:
            return None
        if state in _CONFLICT:
            return Fault.CONFLICT
        if state in _BUSY:
            return Fault.BUSY
        if state in _OUTAGE or state.startswith(_OUTAGE_CLASSES):
            return Fault.OUTAGE
        return None

    # Readiness.

    async def is_ready(self) -> bool:
        return await asyncio.to_thread(self._ready)

    def _ready(self) -> bool:
        """Asked of a pooled session (twice, as ``ping``); during an outage, or when that session
        refuses writes, of a session of its own, which alone tells whether the database takes writes
        now: a session keeps the read-only default it was opened with."""
        pooled = self._takes_writes(self.engine, tries=2)
        if pooled is None:
            return False
        if pooled and not self.outage.ongoing:
            return True
        if not self._takes_writes(self._probe, tries=1):
            if pooled is False:
                self.outage.begin("the database refuses writes (read-only, or a standby)")
            return False
        # It takes writes: the episode (if any) ends, and no session opened during it is used again.
        self.outage.end()
        self.close_connections()
        return True

    def _takes_writes(self, engine: Engine, *, tries: int) -> bool | None:
        """Whether a session of ``engine`` would take writes; None when the database does not answer.
        A lost pooled connection is asked again: with no pre-ping, one the server has closed fails its
        first round trip (and SQLAlchemy replaces the pool's older ones)."""
        for _ in range(tries):
            try:
                with engine.connect() as conn:
                    return bool(conn.execute(_TAKES_WRITES).scalar())
            except PoolTimeout:
                return None  # no pooled connection freed up within pool_timeout: no answer in time
            except DBAPIError as error:
                if self.fault(error) is not Fault.OUTAGE:
                    return None
        return None

    @property
    def loop_engine(self) -> Engine:
        """The engine of the transactions ``run`` runs (``engine`` is everything else's)."""
        return self._on_loop

    def connections_in_use(self) -> int:
        return super().connections_in_use() + int(self._on_loop.pool.checkedout())  # type: ignore[attr-defined]

    def close_connections(self) -> None:
        """Close every idle connection of both pools. The loop's are closed by the next transaction when
        this is not one (closing an asyncpg connection is awaited on the loop)."""
        super().close_connections()
        if in_greenlet():
            self._on_loop.dispose()
        else:
            self._dispose_on_loop = True

    def dispose(self) -> None:
        super().dispose()
        self._on_loop.dispose()  # outside the loop, sockets closed without a goodbye (``_loop_engine``)
        self._probe.dispose()


def _loop_engine(url: str, *, pool_size: int, max_overflow: int) -> Engine:
    """The synchronous face of an asyncio engine on asyncpg, for the transactions ``run`` runs (only
    there: each round trip is awaited in its greenlet). The connection is made from the URL as libpq
    reads it (asyncpg understands its options, ``sslmode`` and the like; any other becomes a server
    setting), ``connect_timeout`` (default ``CONNECT_TIMEOUT_S``) its connection timeout."""
    parsed = make_url(url)
    timeout = float(str(parsed.query.get("connect_timeout", CONNECT_TIMEOUT_S)))
    dsn = (
        parsed.set(drivername="postgresql")
        .difference_update_query(["connect_timeout"])
        .render_as_string(hide_password=False)
    )

    async def connect() -> Any:
        import asyncpg  # type: ignore[import-untyped]  # no type hints

        return await asyncpg.connect(dsn, timeout=timeout)

    engine = create_async_engine(
        "postgresql+asyncpg://",
        async_creator=connect,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=5,
        pool_use_lifo=True,
    ).sync_engine
    dialect: Any = engine.dialect

    def do_begin(connection: Any) -> None:
        # BEGIN at once, the transaction's first round trip (asyncpg's adapter would wait for the first
        # statement): a pooled connection the server has closed fails here, before anything is done.
        await_only(connection.dbapi_connection._start_transaction())

    close = dialect.do_close

    def do_close(dbapi_connection: Any) -> None:
        # Closing is awaited on the loop; outside it (a pool emptied at the end) the connection is
        # dropped without a goodbye, and if its loop has ended the socket goes with the process.
        if in_greenlet():
            close(dbapi_connection)
            return
        with contextlib.suppress(RuntimeError):  # "Event loop is closed"
            dbapi_connection.terminate()

    dialect.do_begin, dialect.do_close = do_begin, do_close
    return engine


def _cut_connect_timeout(give_up_at: float) -> Callable[..., None]:
    """A ``do_connect`` hook: the attempt's connect_timeout (the URL's, or ours) cut to the time left."""

    def cut(_dialect: Any, _record: Any, _args: Any, params: dict[str, Any]) -> None:
        left = math.ceil(give_up_at - time.monotonic())
        configured = int(params.get("connect_timeout", CONNECT_TIMEOUT_S))
        params["connect_timeout"] = max(_LIBPQ_MIN_TIMEOUT_S, min(configured, left))

    return cut


def _reason(error: DBAPIError) -> str:
    """The driver's words for ``error``, on one line, without the connection preamble."""
    lines = str(error.orig).strip().splitlines()
    first = lines[0] if lines else type(error.orig).__name__
    if "FATAL:" in first:
        return first.split("FATAL:", 1)[1].strip()
    return first.rsplit(" failed: ", 1)[-1].strip()


def _refused_by_server(error: DBAPIError) -> str | None:
    """The server's reason when it answered a connection attempt and refused it (no such database,
    role or password); None when nothing answered (refused port, unknown host, timeout)."""
    lines = str(error.orig).strip().splitlines()
    if lines and "FATAL:" in lines[0]:
        return _reason(error)
    return None
