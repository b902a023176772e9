"""The Order service's migrations: run on start (idempotent, replica-safe) or by `eshop order migrate`."""

from __future__ import annotations

from common.db.migrations import Migrations

SCRIPT_LOCATION = "order.infrastructure:migrations"
VERSION_TABLE = "order_alembic_version"
MIGRATIONS = Migrations("order", SCRIPT_LOCATION, VERSION_TABLE)

# Tests and tools bring a database to the newest schema with this.
create_schema = MIGRATIONS.upgrade
