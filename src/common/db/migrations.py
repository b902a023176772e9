"""Alembic upgrade-to-head on start, safe when several replicas start at once."""

from __future__ import annotations

import zlib

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from common.db.database import Database


def upgrade_to_head(database: Database, script_location: str, version_table: str) -> None:
    """Apply the service's migrations (``script_location`` is ``package:directory``).

    On PostgreSQL a session advisory lock serialises replicas that start together; SQLite's
    ``BEGIN IMMEDIATE`` does the same for processes sharing a file.
    """
    config = Config()
    config.set_main_option("script_location", script_location)
    config.attributes["version_table"] = version_table
    with database.engine.connect() as conn:
        lock_key = zlib.crc32(version_table.encode())
        if database.dialect == "postgresql":
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": lock_key})
            conn.commit()
        try:
            config.attributes["connection"] = conn
            if database.is_sqlite:
                conn.info["eshop_write"] = True
            command.upgrade(config, "head")
            conn.commit()
        finally:
            conn.info.pop("eshop_write", None)
            if database.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": lock_key})
                conn.commit()
