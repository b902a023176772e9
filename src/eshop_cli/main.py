"""``eshop``: the parser and the dispatch. Each command lives in its own module."""

from __future__ import annotations

import argparse
import sys

from common import correlation
from common.version import VERSION
from eshop_cli import arguments, dev_token, exit_codes, health, orders, products, serve, session, up
from eshop_cli.output import info, report_failure


def _add_client_options(parser: argparse.ArgumentParser, *, in_subcommand: bool) -> None:
    """The same options before or after the subcommand; given after, they win."""

    def default(value: object) -> object:
        return argparse.SUPPRESS if in_subcommand else value

    parser.add_argument(
        "--product-address",
        metavar="HOST:PORT",
        default=default(session.product_address()),
        help="Product service (default: PRODUCT_LISTEN_ADDRESS or 127.0.0.1:50051)",
    )
    parser.add_argument(
        "--order-address",
        metavar="HOST:PORT",
        default=default(session.order_address()),
        help="Order service (default: ORDER_LISTEN_ADDRESS or 127.0.0.1:50052)",
    )
    parser.add_argument(
        "--timeout",
        type=arguments.positive_seconds,
        metavar="SECONDS",
        default=default(session.DEFAULT_TIMEOUT_S),
        help="deadline of each call (default 10)",
    )
    parser.add_argument(
        "--correlation-id",
        type=arguments.correlation_id,
        metavar="ID",
        default=default(None),
        help="x-correlation-id to send (default: a new UUID)",
    )
    parser.add_argument(
        "--json", action="store_true", default=default(False), help="print JSON (for scripts)"
    )
    parser.add_argument(
        "--token",
        type=arguments.bearer_token,
        metavar="JWT",
        default=default(session.token_from_environment()),
        help="bearer token sent as 'authorization: Bearer …' (default: ESHOP_TOKEN; prefer the "
        "variable, a command line is visible to other users); see `eshop dev-token`",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="eshop",
        description="Run the eshop services and talk to them.",
        epilog="Exit codes: 0 ok, 1 failed (up/health), 2 usage, 3 NOT_FOUND, "
        "4 request refused or not allowed, 5 unavailable or deadline exceeded, 6 other server error, "
        "7 order rejected. See docs/cli.md.",
    )
    parser.add_argument("--version", action="version", version=f"eshop {VERSION}")
    _add_client_options(parser, in_subcommand=False)
    client_options = argparse.ArgumentParser(add_help=False)
    _add_client_options(client_options, in_subcommand=True)

    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    up.add_command(subparsers)
    serve.add_commands(subparsers)
    products.add_commands(subparsers, client_options)
    orders.add_commands(subparsers, client_options)
    health.add_command(subparsers, client_options)
    dev_token.add_command(subparsers)
    return parser


def run(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    client = session.Session(
        product_address=args.product_address,
        order_address=args.order_address,
        timeout_s=args.timeout,
        correlation_id=args.correlation_id or correlation.new_id(),
        json=args.json,
        token=args.token,
    )
    try:
        code: int = args.handler(args, client)
    except session.CallFailed as failed:
        return report_failure(failed)
    except KeyboardInterrupt:
        info("interrupted")
        return exit_codes.INTERRUPTED
    return code


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point; exits with the command's code (see docs/cli.md)."""
    sys.exit(run(argv))
