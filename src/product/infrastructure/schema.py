"""Brings the database schema to the newest migration on start (idempotent, replica-safe)."""

from __future__ import annotations

from common.db.database import Database
from common.db.migrations import upgrade_to_head

SCRIPT_LOCATION = "product.infrastructure:migrations"
VERSION_TABLE = "product_alembic_version"


def create_schema(database: Database) -> None:
    upgrade_to_head(database, SCRIPT_LOCATION, VERSION_TABLE)
