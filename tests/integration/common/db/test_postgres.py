"""PostgreSQL's database class on a real server: its transactions on the event loop (``run``: a greenlet
on an asyncio engine on asyncpg) say BEGIN at once and are at most ``concurrent`` in progress together;
its readiness when every pooled connection is taken is no answer in time, so NOT ready (the health
probe says NOT_SERVING), never an exception out of the probe."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from common.db.postgres import PostgresDatabase
from tests.support.backend import backend

pytestmark = pytest.mark.skipif(
    backend() != "postgres", reason="PostgreSQL's database class (ESHOP_TEST_BACKEND=postgres)"
)


@pytest.fixture
def url(make_database_url: Callable[[str], str]) -> str:
    return make_database_url("loop")


@pytest.fixture
def database(url: str) -> Iterator[PostgresDatabase]:
    database = PostgresDatabase(url, pool_size=4, max_overflow=4, concurrent=2)
    yield database
    database.dispose()


def test_a_pool_with_no_connection_free_is_not_ready_and_raises_nothing(
    make_database_url: Callable[[str], str],
) -> None:
    database = PostgresDatabase(make_database_url("ready"), pool_size=1, max_overflow=0)
    try:
        assert asyncio.run(database.is_ready()) is True
        held = database.engine.connect()  # the pool's one connection, until pool_timeout and past it
        try:
            assert asyncio.run(database.is_ready()) is False
        finally:
            held.close()
        assert asyncio.run(database.is_ready()) is True
    finally:
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
