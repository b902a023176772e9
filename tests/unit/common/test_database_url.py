"""What a service logs about its database never shows the password."""

from __future__ import annotations

from common.db.database import Database


def test_the_logged_database_url_masks_the_password() -> None:
    # Building the engine does not connect: no server is needed to see what would be logged.
    database = Database("postgresql+psycopg://eshop:s3cret-pw@db.example:5432/orders")
    try:
        redacted = database.redacted_url()
    finally:
        database.dispose()

    assert "s3cret-pw" not in redacted
    assert redacted == "postgresql+psycopg://eshop:***@db.example:5432/orders"
