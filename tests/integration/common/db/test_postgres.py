"""PostgreSQL's transactions on the event loop (``PostgresDatabase.run``: a greenlet on an asyncio engine on
asyncpg), on a real server: BEGIN is said at once, and at most ``concurrent`` transactions are in
progress together."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from common.db.postgres import PostgresDatabase
from tests.support.backend import backend


@pytest.fixture
def url(make_database_url: Callable[[str], str]) -> str:
    if backend() != "postgres":
        pytest.skip("PostgreSQL's transactions (ESHOP_TEST_BACKEND=postgres)")
    return make_database_url("loop")


@pytest.fixture
def database(url: str) -> Iterator[PostgresDatabase]:
    database = PostgresDatabase(url, pool_size=4, max_overflow=4, concurrent=2)
    yield database
    database.dispose()


def _session_state(url: str, pid: int) -> str:
    """What the server says the session ``pid`` is doing, asked from a session of its own."""
    libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True) as admin:
        row = admin.execute("SELECT state FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
    assert row is not None
    return str(row[0])


def test_a_transaction_on_the_loop_begins_before_its_first_statement(
    database: PostgresDatabase, url: str
) -> None:
    """BEGIN is the first round trip (asyncpg's adapter would send it with the first statement): a
    pooled connection the server has closed fails there, before anything is done, and the transaction
    begins again on a fresh one (test_database_outage.py's terminated backends)."""

    def transaction() -> str:
        conn = database.begin(write=True)
        try:
            return _session_state(url, conn.connection.driver_connection.get_server_pid())  # type: ignore[union-attr]
        finally:
            database.end(conn, write=True, commit=False)

    assert asyncio.run(database.run(transaction, write=True)) == "idle in transaction"


def test_at_most_concurrent_transactions_are_in_progress_at_once(database: PostgresDatabase) -> None:
    """Each transaction awaits its round trips on the loop, where the others go on; ``concurrent`` (the
    services' ``MAX_WORKERS``) of them at a time, the rest wait their turn."""
    in_progress, most = 0, 0

    def transaction() -> None:
        nonlocal in_progress, most
        in_progress += 1
        most = max(most, in_progress)
        conn = database.begin(write=False)
        try:
            conn.execute(text("SELECT pg_sleep(0.05)"))
        finally:
            database.end(conn, write=False, commit=False)
            in_progress -= 1

    async def six() -> None:
        await asyncio.gather(*(database.run(transaction, write=False) for _ in range(6)))

    asyncio.run(six())
    assert most == 2
