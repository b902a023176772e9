"""``eshop product serve`` and ``eshop order serve``: one service in the foreground until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
from typing import Any

from eshop_cli.session import Session


def add_commands(subparsers: Any) -> None:
    for service, prefix in (("product", "PRODUCT"), ("order", "ORDER")):
        group = subparsers.add_parser(service, help=f"run the {service.title()} service")
        commands = group.add_subparsers(dest=f"{service}_command", metavar="COMMAND", required=True)
        serve = commands.add_parser(
            "serve",
            help=f"serve in the foreground, configured by {prefix}_* variables; stops on SIGTERM/SIGINT",
        )
        serve.set_defaults(handler=serve_product if service == "product" else serve_order)


# Imported when called: `eshop orders list` should not pay for loading both servers.


def serve_product(args: argparse.Namespace, session: Session) -> int:
    from product.server import serve

    serve()
    return 0


def serve_order(args: argparse.Namespace, session: Session) -> int:
    from order.server import serve

    serve()
    return 0
