"""A service's Alembic migrations: upgrade to head (on start or by ``eshop … migrate``), the SQL of that
upgrade for a DBA to review, and the check a service makes when it is told not to migrate itself.

Migrations expand and contract: one adds what the new version needs and keeps what the previous version
uses (dropping it is a later release's migration). So a service works on a schema at its own newest
revision *or after it*: an old replica that restarts once a newer version has migrated (a rolling
upgrade), or a rollback of the images, serves on the newer schema. A database that is behind, or at a
revision that is not in this version's history and not after it, is refused. Revisions are numbered
``0001``, ``0002``, … each the next after the one it revises (a test holds every service to that), so a
revision this version does not know is after its head exactly when its number is higher.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import TextIO

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from loguru import logger
from sqlalchemy import Connection

from common.db.database import Database


class SchemaNotCurrent(RuntimeError):
    """The database is behind this version's newest migration (or at one it cannot place), and the
    service was told not to migrate it."""


class Position(enum.Enum):
    """Where a database's schema stands against this version's migrations."""

    CURRENT = "current"  # at this version's newest revision
    AHEAD = "ahead"  # at a later revision, a newer version's: this version works on it
    BEHIND = "behind"  # at an earlier revision, or never migrated
    UNKNOWN = "unknown"  # at a revision this version cannot place in its history


def position(current: Collection[str], known: Collection[str], head: str) -> Position:
    """Where a database at revisions ``current`` stands, for a version whose history is ``known`` (its
    revision ids) up to ``head``."""
    if set(current) == {head}:
        return Position.CURRENT
    if len(current) != 1:
        return Position.BEHIND if not current else Position.UNKNOWN
    [revision] = current
    if revision in known:
        return Position.BEHIND
    if revision.isdigit() and head.isdigit() and int(revision) > int(head):
        return Position.AHEAD
    return Position.UNKNOWN


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
        idempotent, and nothing to do on a schema a newer version already migrated further. Replicas
        (or processes sharing a SQLite file) that start together migrate one after the other
        (``Database.schema_change``)."""
        config = self._config()
        with database.schema_change(self.version_table) as conn:
            if revision == "head" and self._position(conn) is Position.AHEAD:
                return
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
        """Raise SchemaNotCurrent unless the database is at this version's newest migration or after it."""
        with database.engine.connect() as conn:
            found = self._position(conn)
            current = self._current(conn)
        if found in (Position.CURRENT, Position.AHEAD):
            return
        head = self._head()
        if found is Position.UNKNOWN:
            raise SchemaNotCurrent(
                f"the database is at revision {', '.join(sorted(current))}, which this version "
                f"(newest revision {head}) does not know and cannot place after its own"
            )
        at = f"revision {', '.join(sorted(current))}" if current else "no revision (never migrated)"
        raise SchemaNotCurrent(
            f"the database is at {at}, this version needs revision {head} or later: "
            f"run `eshop {self.service} migrate` first, "
            f"or set {self.service.upper()}_MIGRATE_ON_START=true"
        )

    def revisions(self) -> list[str]:
        """This version's revision ids, oldest first."""
        script = ScriptDirectory.from_config(self._config())
        return [s.revision for s in reversed(list(script.walk_revisions()))]

    def _head(self) -> str:
        return self.revisions()[-1]

    def _current(self, conn: Connection) -> set[str]:
        context = MigrationContext.configure(conn, opts={"version_table": self.version_table})
        return set(context.get_current_heads())

    def _position(self, conn: Connection) -> Position:
        current = self._current(conn)
        known = self.revisions()
        found = position(current, known, known[-1])
        if found is Position.AHEAD:
            logger.info(
                "{} database at revision {}, after this version's newest ({}): working on it as it is",
                self.service,
                ", ".join(sorted(current)),
                known[-1],
            )
        return found

    def on_start(self, migrate: bool) -> Callable[[Database], None]:
        """What a service does with its database on start: migrate it, or check someone else did."""
        return self.upgrade if migrate else self.require_head
