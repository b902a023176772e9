"""What a service logs about its database never shows the password."""

from __future__ import annotations

from common.db.factory import open_database
from common.db.urls import redacted


def test_the_logged_database_url_masks_the_password() -> None:
    # Building the engine does not connect: no server is needed to see what would be logged.
    database = open_database("postgresql+psycopg://eshop:s3cret-pw@db.example:5432/orders")
    try:
        redacted = database.redacted_url()
    finally:
        database.dispose()

    assert "s3cret-pw" not in redacted
    assert redacted == "postgresql+psycopg://eshop:***@db.example:5432/orders"


def test_a_malformed_url_is_shown_as_given_rather_than_raising() -> None:
    assert redacted("not a url at all") == "not a url at all"
    assert (
        redacted("postgresql+psycopg://eshop:pw@db:notaport/x")
        == "postgresql+psycopg://eshop:pw@db:notaport/x"
    )


def test_the_shared_redactor_masks_the_password() -> None:
    assert redacted("postgresql+psycopg://u:s3cret@h/db") == "postgresql+psycopg://u:***@h/db"
