"""The Alembic migrations build exactly the schema the code's tables describe, on every backend."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData

from common.db.database import Database
from common.db.factory import open_database
from order.infrastructure import schema as order_schema
from order.infrastructure.tables import metadata as order_metadata
from product.infrastructure import schema as product_schema
from product.infrastructure.tables import metadata as product_metadata


@pytest.mark.parametrize(
    ("name", "migrate", "metadata", "version_table"),
    [
        ("product", product_schema.create_schema, product_metadata, product_schema.VERSION_TABLE),
        ("order", order_schema.create_schema, order_metadata, order_schema.VERSION_TABLE),
    ],
)
def test_migrations_match_tables_and_are_idempotent(
    make_database_url: Callable[[str], str],
    name: str,
    migrate: Callable[[Database], None],
    metadata: MetaData,
    version_table: str,
) -> None:
    database = open_database(make_database_url(name))
    try:
        migrate(database)
        migrate(database)  # a restart (or a second replica) finds nothing to do
        with database.engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        database.dispose()
    unexpected = [d for d in differences if not (d[0] == "remove_table" and d[1].name == version_table)]
    assert unexpected == []
