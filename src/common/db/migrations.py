"""A service's Alembic migrations: upgrade to head (on start or by ``eshop … migrate``), the SQL of that
upgrade for a DBA to review, and the check a service makes when it is told not to migrate itself."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from common.db.database import Database


class SchemaNotCurrent(RuntimeError):
    """The database is not at the newest migration and the service was told not to migrate it."""


@dataclass(frozen=True)
class Migrations:
    service: str  # "product" or "order": names the command and the variable in messages
    script_location: str  # ``package:directory`` of the service's Alembic scripts
    version_table: str

    def _config(self, output: TextIO | None = None) -> Config:
        config = Config(output_buffer=output)
        config.set_main_option("script_location", self.script_location)
        config.attributes["version_table"] = self.version_table
        return config

    def upgrade(self, database: Database, revision: str = "head") -> None:
        """Apply every pending migration (up to ``revision``: tests of a migration start before it);
        idempotent. Replicas (or processes sharing a SQLite file)
        that start together migrate one after the other (``Database.schema_change``)."""
        config = self._config()
        with database.schema_change(self.version_table) as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
            conn.commit()

    def write_upgrade_sql(self, url: str, output: TextIO) -> None:
        """Write the SQL of a full upgrade for the URL's dialect (Alembic's offline mode); connects to
        nothing, so a DBA can review it before anything runs."""
        config = self._config(output)
        config.attributes["url"] = url
        command.upgrade(config, "head", sql=True)

    def require_head(self, database: Database) -> None:
        """Raise SchemaNotCurrent unless the database is at the newest migration."""
        heads = set(ScriptDirectory.from_config(self._config()).get_heads())
        with database.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"version_table": self.version_table})
            current = set(context.get_current_heads())
        if current != heads:
            found = f"revision {', '.join(sorted(current))}" if current else "no revision (never migrated)"
            raise SchemaNotCurrent(
                f"the database is at {found}, this version needs revision {', '.join(sorted(heads))}: "
                f"run `eshop {self.service} migrate` first, "
                f"or set {self.service.upper()}_MIGRATE_ON_START=true"
            )

    def on_start(self, migrate: bool) -> Callable[[Database], None]:
        """What a service does with its database on start: migrate it, or check someone else did."""
        return self.upgrade if migrate else self.require_head
