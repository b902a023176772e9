"""A database opened with a service's tables made, for the tests of that service's storage."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from common.db.database import Database
from common.db.factory import open_database


@contextmanager
def schema_database(url: str, create_schema: Callable[[Database], object]) -> Iterator[Database]:
    """``url`` opened, ``create_schema`` run on it; disposed of on the way out."""
    database = open_database(url)
    try:
        create_schema(database)
        yield database
    finally:
        database.dispose()
