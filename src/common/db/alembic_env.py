"""The body of every service's Alembic ``env.py``: migrate on the connection the caller hands over, or
(offline, ``--sql``) render the SQL for the URL's dialect without connecting."""

from __future__ import annotations

from alembic import context
from sqlalchemy import MetaData
from sqlalchemy.engine import make_url


def run(target_metadata: MetaData) -> None:
    config = context.config
    options = {"target_metadata": target_metadata, "version_table": config.attributes["version_table"]}
    if context.is_offline_mode():
        url = config.attributes["url"]
        context.configure(
            url=url,
            literal_binds=True,
            render_as_batch=make_url(url).get_backend_name() == "sqlite",
            **options,
        )
    else:
        connection = config.attributes.get("connection")
        if connection is None:
            raise RuntimeError(
                "migrations run through common.db.migrations.Migrations: "
                "`eshop product migrate` or `eshop order migrate` (`--sql` prints the SQL)"
            )
        context.configure(
            connection=connection,
            render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
            **options,
        )
    with context.begin_transaction():
        context.run_migrations()
