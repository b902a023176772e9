"""The connection pool on the configured backend (SQLite or PostgreSQL): last returned, first reused."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from psycopg import pq
from sqlalchemy import Connection, text
from sqlalchemy.exc import OperationalError

from common.db.database import Database
from common.db.factory import open_database


@pytest.fixture
def database(make_database_url: Callable[[str], str]) -> Iterator[Database]:
    database = open_database(make_database_url("pool"))
    yield database
    database.dispose()


def _driver_connection(conn: Connection) -> Any:
    return conn.connection.dbapi_connection


def test_each_transaction_reuses_the_connection_returned_last(database: Database) -> None:
    # Two connections in the pool, given back first then second: a FIFO pool would now alternate
    # between them, and on SQLite each switch throws away a warm page cache.
    first, second = database.begin(write=False), database.begin(write=False)
    warm = _driver_connection(second)
    assert _driver_connection(first) is not warm
    database.end(first, write=False, commit=False)
    database.end(second, write=False, commit=False)

    for write in (True, False, True):
        conn = database.begin(write=write)
        assert _driver_connection(conn) is warm
        database.end(conn, write=True, commit=True)


def test_serving_sqlite_keeps_one_connection_between_transactions(database: Database) -> None:
    if database.system_name != "sqlite":
        pytest.skip("transactions overlap on PostgreSQL (each awaiting its round trips): the pool hands out")
    database.serving()
    conn = database.begin(write=True)
    kept = _driver_connection(conn)
    database.end(conn, write=True, commit=True)
    # Kept, not checked in: still checked out of the pool, yet not counted as in use.
    assert database.engine.pool.checkedout() == 1  # type: ignore[attr-defined]
    assert database.connections_in_use() == 0

    for write in (False, True, True):
        conn = database.begin(write=write)
        assert conn.in_transaction() and database.connections_in_use() == 1
        assert _driver_connection(conn) is kept
        database.end(conn, write=write, commit=write)


def test_a_broken_connection_is_not_kept(database: Database) -> None:
    if database.system_name != "sqlite":
        pytest.skip("only SQLite keeps a connection between transactions")
    database.serving()
    conn = database.begin(write=True)
    broken = _driver_connection(conn)
    # What a statement on a file that turned read-only raises (SQLite's own error, wrapped).
    failure = OperationalError("UPDATE products ...", None, sqlite3.OperationalError("readonly database"))
    database.end(conn, write=True, commit=False, failure=failure)

    conn = database.begin(write=True)
    assert _driver_connection(conn) is not broken
    database.end(conn, write=True, commit=True)
    database.close_connections()
    assert database.engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_a_postgresql_transaction_is_begin_its_statements_and_commit(
    database: Database, tmp_path: Path
) -> None:
    """No pre-ping: BEGIN is the first round trip (a stale connection fails there; see the outage
    tests), then the statement, then COMMIT, as libpq's own trace of the connection shows."""
    if database.system_name == "sqlite":
        pytest.skip("round trips to a server are PostgreSQL's")
    database.serving()
    database.end(database.begin(write=True), write=True, commit=True)  # the pool now holds one connection
    probe = database.engine.connect()
    pgconn = probe.connection.driver_connection.pgconn  # type: ignore[union-attr]
    probe.close()  # LIFO: the next transaction gets this connection back
    trace = tmp_path / "libpq.trace"
    with trace.open("w") as out:
        pgconn.trace(out.fileno())
        pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        conn = database.begin(write=True)
        conn.execute(text("SELECT 1"))
        database.end(conn, write=True, commit=True)
        pgconn.untrace()
    sent = [line.split("\t") for line in trace.read_text().splitlines() if line.startswith("F\t")]

    assert [(fields[2], fields[3].strip()) for fields in sent] == [
        ("Query", '"BEGIN"'),
        ("Query", '"SELECT 1"'),
        ("Query", '"COMMIT"'),
    ]
