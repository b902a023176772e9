"""``eshop product|order serve`` (one service in the foreground until SIGTERM/SIGINT) and
``eshop product|order migrate`` (bring its database to the newest schema, or print that SQL)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from eshop_cli import exit_codes
from eshop_cli.output import info
from eshop_cli.session import Session

if TYPE_CHECKING:
    from common.db.migrations import Migrations
    from common.settings import ServerSettings


def add_commands(subparsers: Any) -> None:
    for service, prefix in (("product", "PRODUCT"), ("order", "ORDER")):
        group = subparsers.add_parser(
            service, help=f"run the {service.title()} service or migrate its database"
        )
        commands = group.add_subparsers(dest=f"{service}_command", metavar="COMMAND", required=True)
        serve = commands.add_parser(
            "serve",
            help=f"serve in the foreground, configured by {prefix}_* variables; stops on SIGTERM/SIGINT",
        )
        serve.set_defaults(handler=serve_product if service == "product" else serve_order)
        migrate = commands.add_parser(
            "migrate",
            help=f"bring {prefix}_DATABASE_URL to the newest schema and exit (run before replicas start)",
        )
        migrate.add_argument(
            "--sql",
            action="store_true",
            help="print the SQL of the full upgrade for the URL's database instead; connects to nothing",
        )
        migrate.set_defaults(handler=migrate_product if service == "product" else migrate_order)


# Imported when called: `eshop orders list` should not pay for loading the servers and their migrations.


def serve_product(args: argparse.Namespace, session: Session) -> int:
    from product.server import serve

    serve()
    return 0


def serve_order(args: argparse.Namespace, session: Session) -> int:
    from order.server import serve

    serve()
    return 0


def migrate_product(args: argparse.Namespace, session: Session) -> int:
    from product.infrastructure.schema import MIGRATIONS
    from product.settings import ProductSettings

    return _migrate(MIGRATIONS, ProductSettings, sql=args.sql)


def migrate_order(args: argparse.Namespace, session: Session) -> int:
    from order.infrastructure.schema import MIGRATIONS
    from order.settings import OrderSettings

    return _migrate(MIGRATIONS, OrderSettings, sql=args.sql)


def _migrate(migrations: Migrations, settings_class: type[ServerSettings], *, sql: bool) -> int:
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError

    from common import configuration
    from common.db.factory import open_database
    from common.redaction import redacted

    try:
        [settings] = configuration.load(settings_class)
    except configuration.ConfigurationError as error:  # the same one line per problem as `serve`
        configuration.report(error)
        return exit_codes.CONFIGURATION
    assert isinstance(settings, settings_class)
    url = settings.database_url
    if sql:
        migrations.write_upgrade_sql(url, sys.stdout)
        return exit_codes.OK
    database = open_database(url, pool_size=1, max_overflow=0)
    try:
        migrations.upgrade(database)
    except SQLAlchemyError as error:  # unreachable, refused, no such database: one line, not a traceback
        reason = str(error.orig if isinstance(error, DBAPIError) else error).strip().splitlines()[0]
        info(f"eshop {migrations.service} migrate: cannot migrate {redacted(url)}: {reason}")
        return exit_codes.FAILED
    finally:
        database.dispose()
    info(f"eshop {migrations.service} migrate: {redacted(url)} is at the newest schema")
    return exit_codes.OK
