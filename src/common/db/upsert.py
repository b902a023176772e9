"""INSERT … ON CONFLICT DO NOTHING for SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import Connection, Executable, Table
from sqlalchemy.dialects import postgresql, sqlite


def insert_ignoring_conflict(
    conn: Connection, table: Table, values: dict[str, Any], conflict_columns: Sequence[str]
) -> int:
    """Insert a row unless one with the same key exists; returns 1 if inserted, 0 otherwise.

    On PostgreSQL a conflicting insert waits for the transaction holding the key and then reports the
    conflict, so the caller can read the winner's committed row right after.
    """
    statement = _statement(conn.dialect.name, table, tuple(conflict_columns))
    return conn.execute(statement, values).rowcount


@cache
def _statement(dialect_name: str, table: Table, conflict_columns: tuple[str, ...]) -> Executable:
    # Built once per table: the values travel as parameters, so the statement is the same every call.
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    statement = dialect.insert(table).on_conflict_do_nothing(index_elements=list(conflict_columns))
    # SQLAlchemy keeps an INSERT's rowcount only when asked; without this it is -1 on psycopg.
    prepared: Executable = statement.execution_options(preserve_rowcount=True)
    return prepared
