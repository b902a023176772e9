"""The connection pool on the configured backend (SQLite or PostgreSQL): last returned, first reused."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Connection

from common.db.database import Database


@pytest.fixture
def database(make_database_url: Callable[[str], str]) -> Iterator[Database]:
    database = Database(make_database_url("pool"))
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
    database.end(first, commit=False)
    database.end(second, commit=False)

    for write in (True, False, True):
        conn = database.begin(write=write)
        assert _driver_connection(conn) is warm
        database.end(conn, commit=True)
