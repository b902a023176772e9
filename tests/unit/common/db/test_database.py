"""What each database class makes of an error, and what the caller is told: docs/architecture.md's table
"What an error means", row by row. Building the classes connects to nothing."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]  # no type hints
import psycopg
import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, InternalError, OperationalError, PendingRollbackError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from common.db.database import DatabaseClosed, Fault
from common.db.postgres import PostgresDatabase
from common.db.sqlite import DatabaseBusy, SqliteDatabase
from common.errors import Aborted, Unavailable


@pytest.fixture
def postgres() -> Iterator[PostgresDatabase]:
    database = PostgresDatabase("postgresql+psycopg://eshop:pw@db.example:5432/eshop")
    yield database
    database.dispose()


@pytest.fixture
def sqlite(tmp_path: Path) -> Iterator[SqliteDatabase]:
    database = SqliteDatabase(f"sqlite:///{tmp_path / 'x.db'}")
    yield database
    database.dispose()


def _server_error(wrapper: type[DBAPIError], sqlstate: str, invalidated: bool = False) -> DBAPIError:
    """What SQLAlchemy raises for a server's error with this SQLSTATE."""
    orig = psycopg.errors.lookup(sqlstate)(f"the server's words for {sqlstate}")
    return wrapper("SELECT 1", None, orig, connection_invalidated=invalidated)


@pytest.mark.parametrize(
    ("sqlstate", "wrapper", "fault"),
    [
        ("40001", OperationalError, Fault.CONFLICT),  # serialization_failure
        ("40P01", OperationalError, Fault.CONFLICT),  # deadlock_detected
        ("55P03", OperationalError, Fault.BUSY),  # lock_not_available
        ("57014", OperationalError, Fault.BUSY),  # query_canceled
        ("25006", InternalError, Fault.OUTAGE),  # read_only_sql_transaction: a standby
        ("25P03", InternalError, Fault.OUTAGE),  # idle_in_transaction_session_timeout
        ("57P01", OperationalError, Fault.OUTAGE),  # admin_shutdown: pg_terminate_backend
        ("57P02", OperationalError, Fault.OUTAGE),  # crash_shutdown
        ("57P03", OperationalError, Fault.OUTAGE),  # cannot_connect_now
        ("57P04", OperationalError, Fault.OUTAGE),  # database_dropped
        ("57P05", OperationalError, Fault.OUTAGE),  # idle_session_timeout
        ("08006", OperationalError, Fault.OUTAGE),  # connection_failure
        ("53100", OperationalError, Fault.OUTAGE),  # disk_full
        ("53300", OperationalError, Fault.OUTAGE),  # too_many_connections
        ("58030", OperationalError, Fault.OUTAGE),  # io_error
        ("23505", IntegrityError, None),  # unique_violation: a bug here, never retried
        ("42P01", DBAPIError, None),  # undefined_table
        ("54001", OperationalError, None),  # statement_too_complex
        ("XX000", InternalError, None),  # internal_error
    ],
)
def test_postgresql_errors_mean_what_their_sqlstate_says(
    postgres: PostgresDatabase, sqlstate: str, wrapper: type[DBAPIError], fault: Fault | None
) -> None:
    assert postgres.fault(_server_error(wrapper, sqlstate)) is fault


def test_a_connection_sqlalchemy_invalidated_is_an_outage_whatever_its_sqlstate(
    postgres: PostgresDatabase,
) -> None:
    assert postgres.fault(_server_error(InternalError, "XX000", invalidated=True)) is Fault.OUTAGE


@pytest.mark.parametrize(
    "orig",
    [
        psycopg.OperationalError("connection failed: Connection refused"),
        psycopg.InterfaceError("the connection is closed"),
    ],
)
def test_a_driver_error_without_a_sqlstate_is_a_lost_connection(
    postgres: PostgresDatabase, orig: Exception
) -> None:
    wrapper = OperationalError if isinstance(orig, psycopg.OperationalError) else DBAPIError
    error = wrapper.instance("SELECT 1", None, orig, psycopg.Error)

    assert postgres.fault(error) is Fault.OUTAGE


@pytest.mark.parametrize(
    ("error", "fault"),
    [
        (ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)"), Fault.OUTAGE),
        (TimeoutError(), Fault.OUTAGE),  # no answer within the connection timeout
        (asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"), Fault.OUTAGE),
        (asyncpg.exceptions.CannotConnectNowError("the database system is starting up"), Fault.OUTAGE),
        (asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"), Fault.OUTAGE),
        (asyncpg.exceptions.SerializationError("could not serialize access"), Fault.CONFLICT),
        (asyncpg.exceptions.UniqueViolationError("duplicate key"), None),
    ],
)
def test_what_asyncpg_raises_as_it_is_means_the_same(
    postgres: PostgresDatabase, error: BaseException, fault: Fault | None
) -> None:
    # Making a connection for the loop's transactions, asyncpg's errors reach us unwrapped.
    assert postgres.fault(error) is fault


def test_asyncpg_errors_wrapped_by_sqlalchemy_mean_what_their_sqlstate_says(
    postgres: PostgresDatabase,
) -> None:
    from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_dbapi

    def wrapped(server_error: Exception) -> DBAPIError:
        adapted = AsyncAdapt_asyncpg_dbapi.Error(str(server_error))
        adapted.sqlstate = server_error.sqlstate  # as SQLAlchemy's translation sets it
        return OperationalError("SELECT 1", None, adapted)

    assert postgres.fault(wrapped(asyncpg.exceptions.DeadlockDetectedError("deadlock"))) is Fault.CONFLICT
    assert (
        postgres.fault(wrapped(asyncpg.exceptions.ReadOnlySQLTransactionError("read-only"))) is Fault.OUTAGE
    )


def test_what_is_not_a_database_error_is_nothing_to_either_class(
    postgres: PostgresDatabase, sqlite: SqliteDatabase
) -> None:
    pending = PendingRollbackError("Can't reconnect until invalid transaction is rolled back")
    for database in (postgres, sqlite):
        assert database.fault(ValueError("a bug")) is None
        assert database.fault(pending) is None
        assert database.refusal(ValueError("a bug")) is None


def test_a_pool_with_no_connection_to_give_is_busy(postgres: PostgresDatabase) -> None:
    assert postgres.fault(PoolTimeout("QueuePool limit of size 10 overflow 5 reached")) is Fault.BUSY


def test_what_the_postgresql_caller_is_told(postgres: PostgresDatabase) -> None:
    conflict = postgres.refusal(_server_error(OperationalError, "40001"))
    busy = postgres.refusal(_server_error(OperationalError, "55P03"))
    outage = postgres.refusal(_server_error(InternalError, "25006"))

    assert isinstance(conflict, Aborted)
    assert isinstance(busy, Unavailable) and not isinstance(busy, DatabaseBusy)
    assert isinstance(outage, Unavailable)
    assert postgres.refusal(_server_error(IntegrityError, "23505")) is None


@pytest.mark.parametrize(
    ("message", "fault"),
    [
        ("database is locked", Fault.BUSY),
        ("database table is locked", Fault.BUSY),
        ("attempt to write a readonly database", Fault.OUTAGE),
        ("disk I/O error", Fault.OUTAGE),
        ("unable to open database file", Fault.OUTAGE),
    ],
)
def test_sqlite_errors_mean_what_their_words_say(sqlite: SqliteDatabase, message: str, fault: Fault) -> None:
    error = OperationalError("UPDATE products …", None, sqlite3.OperationalError(message))

    assert sqlite.fault(error) is fault


def test_a_busy_sqlite_file_is_told_as_busy_so_that_the_transaction_is_tried_again(
    sqlite: SqliteDatabase,
) -> None:
    refusal = sqlite.refusal(
        OperationalError("BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked"))
    )

    assert isinstance(refusal, DatabaseBusy)
    assert (
        sqlite.refusal(IntegrityError("INSERT …", None, sqlite3.IntegrityError("UNIQUE constraint failed")))
        is None
    )


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_a_transaction_after_dispose_is_a_clear_error_and_reopens_nothing(
    kind: str, request: pytest.FixtureRequest
) -> None:
    database: SqliteDatabase | PostgresDatabase = request.getfixturevalue(kind)
    database.dispose()
    ran: list[str] = []

    with pytest.raises(DatabaseClosed, match="closed: its service has stopped"):
        await database.run(lambda: ran.append("ran"), write=True)
    assert ran == []
    assert database.engine.pool.checkedout() == 0
    assert getattr(database, "_threads", None) is None  # PostgreSQL's pool of threads not made again
