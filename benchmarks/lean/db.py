"""The lean servers' database: SQLite (one connection, ``BEGIN IMMEDIATE``) or PostgreSQL (psycopg).

A transaction is a ``with database.transaction() as tx:`` block with no I/O but the database's inside:
it commits when the block ends and rolls back when it raises. The SQL is written once with ``?``
placeholders and translated for psycopg.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

BUSY_TIMEOUT_MS = 5000  # as the real services


class Tx:
    """One transaction's statements on a DB-API cursor."""

    def __init__(self, cursor: Any, postgres: bool) -> None:
        self._cursor = cursor
        self._postgres = postgres

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self._postgres else sql

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Execute; the number of rows it changed."""
        self._cursor.execute(self._sql(sql), params)
        return int(self._cursor.rowcount)

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        self._cursor.execute(self._sql(sql), params)
        row: tuple[Any, ...] | None = self._cursor.fetchone()
        return row

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self._cursor.execute(self._sql(sql), params)
        return list(self._cursor.fetchall())

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._cursor.executemany(self._sql(sql), rows)


class Database:
    """SQLite: one connection per process, one transaction at a time (the real services' discipline:
    one writer, ``BEGIN IMMEDIATE``). PostgreSQL: one connection per thread."""

    def __init__(self, url: str) -> None:
        self.postgres = url.startswith("postgresql")
        self._lock = threading.Lock()
        self._local = threading.local()
        if self.postgres:
            self._conninfo = url.replace("postgresql+psycopg://", "postgresql://", 1)
        else:
            path = url.removeprefix("sqlite:///")
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._sqlite = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", f"busy_timeout={BUSY_TIMEOUT_MS}",
                           "foreign_keys=ON"):  # fmt: skip
                self._sqlite.execute(f"PRAGMA {pragma}")

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        if self.postgres:
            conn = self._postgres_connection()
            with conn.transaction():
                yield Tx(conn.cursor(), postgres=True)
            return
        with self._lock:
            cursor = self._sqlite.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield Tx(cursor, postgres=False)
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            cursor.execute("COMMIT")

    def stamp(self, moment: datetime) -> Any:
        """A UTC time as the real services store it: naive text on SQLite, timestamptz on PostgreSQL."""
        if self.postgres:
            return moment
        return moment.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")

    def moment(self, stored: Any) -> datetime:
        if isinstance(stored, datetime):
            return stored.astimezone(timezone.utc)
        return datetime.fromisoformat(stored).replace(tzinfo=timezone.utc)

    def fresh_schema(self, name: str, ddl: str) -> None:
        """PostgreSQL: an empty schema of our own (the database may hold the real services' tables)."""
        if self.postgres:
            self._schema = name
            with self.transaction() as tx:
                tx.run(f"DROP SCHEMA IF EXISTS {name} CASCADE")
                tx.run(f"CREATE SCHEMA {name}")
                tx.run(f"SET search_path TO {name}")
                for statement in ddl.split(";"):
                    if statement.strip():
                        tx.run(statement)
            self._local.conn.close()
            self._local.conn = None
        else:
            self._sqlite.executescript(ddl)

    def _postgres_connection(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            import psycopg  # only when PostgreSQL is asked for

            options = f"-c search_path={getattr(self, '_schema', 'public')}"
            conn = psycopg.connect(self._conninfo, autocommit=True, options=options)
            self._local.conn = conn
        return conn
