"""The Product service's migrations: run on start (idempotent, replica-safe) or by `eshop product migrate`."""

from __future__ import annotations

from common.db.migrations import Migrations

SCRIPT_LOCATION = "product.infrastructure:migrations"
VERSION_TABLE = "product_alembic_version"
MIGRATIONS = Migrations("product", SCRIPT_LOCATION, VERSION_TABLE)

# Tests and tools bring a database to the newest schema with this.
create_schema = MIGRATIONS.upgrade
