"""INSERT … ON CONFLICT DO NOTHING for SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def insert_ignoring_conflict(
    conn: Connection, table: Table, values: dict[str, Any], conflict_columns: Sequence[str]
) -> int:
    """Insert a row unless one with the same key exists; returns 1 if inserted, 0 otherwise.

    On PostgreSQL a conflicting insert waits for the transaction holding the key and then reports the
    conflict, so the caller can read the winner's committed row right after.
    """
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(**values).on_conflict_do_nothing(index_elements=conflict_columns)
    # SQLAlchemy keeps an INSERT's rowcount only when asked; without this it is -1 on psycopg.
    return conn.execute(statement.execution_options(preserve_rowcount=True)).rowcount
