"""The database class a URL gets, and the Resource the services' containers open it with."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from sqlalchemy.engine import make_url

from common.db.database import Database
from common.db.postgres import PostgresDatabase
from common.db.sqlite import SqliteDatabase


def open_database(
    url: str, *, pool_size: int = 10, max_overflow: int = 5, concurrent: int | None = None
) -> Database:
    """``sqlite:///…`` -> SqliteDatabase, ``postgresql+psycopg://…`` -> PostgresDatabase (``concurrent``:
    how many transactions are in progress at once; SQLite runs them one at a time, inline on the loop).
    Connects to nothing."""
    if make_url(url).get_backend_name() == "sqlite":
        return SqliteDatabase(url, pool_size=pool_size, max_overflow=max_overflow)
    return PostgresDatabase(url, pool_size=pool_size, max_overflow=max_overflow, concurrent=concurrent)


def database_resource(
    url: str,
    pool_size: int,
    max_overflow: int,
    migrate: Callable[[Database], None],
    concurrent: int | None = None,
) -> Iterator[Database]:
    """A dependency-injector Resource: open, bring the schema up to date, dispose on shutdown."""
    database = open_database(url, pool_size=pool_size, max_overflow=max_overflow, concurrent=concurrent)
    try:
        database.prepare(migrate)
    except BaseException:
        database.dispose()
        raise
    database.serving()
    yield database
    database.dispose()
