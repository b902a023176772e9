"""What a service shows of a URL (its database in a log line, a setting in a configuration error, a
benchmark's report) never shows the password: one redaction for all."""

from __future__ import annotations

import pytest

from common import configuration
from common.db.factory import open_database
from common.redaction import redacted


def test_the_logged_database_url_masks_the_password() -> None:
    # Building the engine does not connect: no server is needed to see what would be logged.
    database = open_database("postgresql+psycopg://eshop:s3cret-pw@db.example:5432/orders")
    try:
        redacted = database.redacted_url()
    finally:
        database.dispose()

    assert "s3cret-pw" not in redacted
    assert redacted == "postgresql+psycopg://eshop:***@db.example:5432/orders"


def test_a_malformed_url_keeps_its_password_hidden_rather_than_raising() -> None:
    assert redacted("not a url at all") == "not a url at all"
    assert (
        redacted("postgresql+psycopg://eshop:pw@db:notaport/x")
        == "postgresql+psycopg://eshop:***@db:notaport/x"
    )


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql+psycopg://u:s3cret@h/db", "postgresql+psycopg://u:***@h/db"),
        (
            "postgresql+psycopg://u:s3cret@h:5432/db?sslmode=require",
            "postgresql+psycopg://u:***@h:5432/db?sslmode=require",
        ),
        ("amqps://shop:s3cret@broker:5671/vhost", "amqps://shop:***@broker:5671/vhost"),
        ("https://idp.example/jwks", "https://idp.example/jwks"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///.eshop/order.db", "sqlite:///.eshop/order.db"),
    ],
)
def test_a_password_is_masked_the_same_way_in_a_log_line_and_a_configuration_error(
    url: str, shown: str
) -> None:
    assert redacted(url) == shown
    assert configuration.shown(url) == repr(shown)
