"""Creates the schema on start (idempotent)."""

from __future__ import annotations

from common.db.database import Database
from order.infrastructure.tables import metadata


def create_schema(database: Database) -> None:
    metadata.create_all(database.engine)
