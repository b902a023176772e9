"""The lean servers' databases: SQLite (one connection, ``BEGIN IMMEDIATE``) or PostgreSQL, on a
synchronous driver (``sqlite3``, ``psycopg``) or an asynchronous one (``psycopg``'s ``AsyncConnection``,
``asyncpg``).

The work (``order_work``, ``product_work``) is written once, as coroutines of a ``Tx`` whose statements
are awaited. On a synchronous driver a statement never suspends, so the work is driven to its end with
one ``send`` (``finish``): a ``with database.transaction() as tx:`` block with no I/O but the database's
inside, committed when it ends and rolled back when it raises. On an asynchronous driver each statement
is awaited on the event loop, inside ``async with database.transaction() as tx:``. The SQL is written
once with ``?`` placeholders and translated for each driver.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime, timezone
from functools import cache
from pathlib import Path
from typing import Any, Protocol, TypeVar

BUSY_TIMEOUT_MS = 5000  # as the real services
POOL_SIZE = 10  # connections of an asynchronous driver's pool, as the services' pool_size
T = TypeVar("T")
Row = tuple[Any, ...]


class Tx(Protocol):
    """One transaction's statements."""

    async def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Execute; the number of rows it changed."""
        ...

    async def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None: ...
    async def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...
    async def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...


def finish(work: Coroutine[Any, Any, T]) -> T:
    """The result of ``work`` on a synchronous driver, where it never suspends."""
    try:
        work.send(None)
    except StopIteration as done:
        result: T = done.value
        return result
    work.close()
    raise RuntimeError("a transaction on a synchronous driver suspended")


class CursorTx:
    """On a DB-API cursor (``sqlite3``, ``psycopg``): every statement is done when awaited."""

    def __init__(self, cursor: Any, postgres: bool) -> None:
        self._cursor = cursor
        self._postgres = postgres

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self._postgres else sql

    async def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        self._cursor.execute(self._sql(sql), params)
        return int(self._cursor.rowcount)

    async def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        self._cursor.execute(self._sql(sql), params)
        row: Row | None = self._cursor.fetchone()
        return row

    async def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        self._cursor.execute(self._sql(sql), params)
        return list(self._cursor.fetchall())

    async def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._cursor.executemany(self._sql(sql), rows)


class PsycopgAsyncTx(CursorTx):
    """On ``psycopg``'s ``AsyncCursor``: each statement awaited on the loop."""

    async def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        await self._cursor.execute(self._sql(sql), params)
        return int(self._cursor.rowcount)

    async def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        await self._cursor.execute(self._sql(sql), params)
        row: Row | None = await self._cursor.fetchone()
        return row

    async def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        await self._cursor.execute(self._sql(sql), params)
        return list(await self._cursor.fetchall())

    async def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        await self._cursor.executemany(self._sql(sql), rows)


@cache
def _numbered(sql: str) -> str:
    """``?`` placeholders as asyncpg's ``$1``, ``$2``, …"""
    count = iter(range(1, sql.count("?") + 1))
    return re.sub(r"\?", lambda _: f"${next(count)}", sql)


class AsyncpgTx:
    """On an ``asyncpg`` connection: each statement awaited on the loop (prepared once per connection)."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        status: str = await self._conn.execute(_numbered(sql), *params)
        return int(status.rsplit(" ", 1)[-1])  # "UPDATE 1", "INSERT 0 1"

    async def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        row = await self._conn.fetchrow(_numbered(sql), *params)
        return None if row is None else tuple(row)

    async def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return [tuple(row) for row in await self._conn.fetch(_numbered(sql), *params)]

    async def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        await self._conn.executemany(_numbered(sql), rows)


class Stamps:
    """Times as the real services store them: naive text on SQLite, timestamptz on PostgreSQL."""

    postgres: bool

    def stamp(self, moment: datetime) -> Any:
        if self.postgres:
            return moment
        return moment.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")

    def moment(self, stored: Any) -> datetime:
        if isinstance(stored, datetime):
            return stored.astimezone(timezone.utc)
        return datetime.fromisoformat(stored).replace(tzinfo=timezone.utc)


def conninfo(url: str) -> str:
    """A libpq URL (what psycopg and asyncpg take) from the SQLAlchemy one."""
    return re.sub(r"^postgresql\+\w+://", "postgresql://", url)


class Database(Stamps):
    """On a synchronous driver. SQLite: one connection per process, one transaction at a time (the real
    services' discipline: one writer, ``BEGIN IMMEDIATE``). PostgreSQL: one connection per thread."""

    def __init__(self, url: str) -> None:
        self.postgres = url.startswith("postgresql")
        self._lock = threading.Lock()
        self._local = threading.local()
        self._schema = "public"
        if self.postgres:
            self._conninfo = conninfo(url)
        else:
            path = url.removeprefix("sqlite:///")
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._sqlite = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", f"busy_timeout={BUSY_TIMEOUT_MS}",
                           "foreign_keys=ON"):  # fmt: skip
                self._sqlite.execute(f"PRAGMA {pragma}")

    @contextmanager
    def transaction(self) -> Iterator[CursorTx]:
        if self.postgres:
            conn = self._postgres_connection()
            with conn.transaction():
                yield CursorTx(conn.cursor(), postgres=True)
            return
        with self._lock:
            cursor = self._sqlite.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield CursorTx(cursor, postgres=False)
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            cursor.execute("COMMIT")

    def fresh_schema(self, name: str, ddl: str) -> None:
        """PostgreSQL: an empty schema of our own (the database may hold the real services' tables)."""
        if self.postgres:
            with self.transaction() as tx:
                for statement in (f"DROP SCHEMA IF EXISTS {name} CASCADE", f"CREATE SCHEMA {name}",
                                  f"SET search_path TO {name}", *ddl.split(";")):  # fmt: skip
                    if statement.strip():
                        finish(tx.run(statement))
            self._local.conn.close()
            self._local.conn = None
            self._schema = name
        else:
            self._sqlite.executescript(ddl)

    def _postgres_connection(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            import psycopg  # only when PostgreSQL is asked for

            conn = psycopg.connect(self._conninfo, autocommit=True, options=f"-c search_path={self._schema}")
            self._local.conn = conn
        return conn


class AsyncDatabase(Stamps):
    """PostgreSQL on an asynchronous driver (``psycopg`` or ``asyncpg``): a pool of ``POOL_SIZE``
    connections, a transaction awaited on the event loop. ``open`` it on the loop that serves."""

    def __init__(self, url: str, driver: str, schema: str) -> None:
        if driver not in ("psycopg", "asyncpg"):
            raise ValueError(f"no asynchronous driver {driver!r}")
        self.postgres = True
        self._conninfo, self._driver, self._schema = conninfo(url), driver, schema
        self._idle: asyncio.Queue[Any] = asyncio.Queue()
        self._pool: Any = None

    async def open(self) -> None:
        if self._driver == "asyncpg":
            import asyncpg  # type: ignore[import-untyped]  # no type hints

            self._pool = await asyncpg.create_pool(
                self._conninfo, min_size=POOL_SIZE, max_size=POOL_SIZE,
                server_settings={"search_path": self._schema},
            )  # fmt: skip
            return
        import psycopg

        for _ in range(POOL_SIZE):
            self._idle.put_nowait(
                await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True, options=f"-c search_path={self._schema}"
                )
            )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        if self._pool is not None:
            async with self._pool.acquire() as conn, conn.transaction():
                yield AsyncpgTx(conn)
            return
        conn = await self._idle.get()
        try:
            async with conn.transaction():
                yield PsycopgAsyncTx(conn.cursor(), postgres=True)
        finally:
            self._idle.put_nowait(conn)
