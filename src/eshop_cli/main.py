"""``eshop``: the parser and the dispatch. Each command lives in its own module."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import NoReturn

from common import correlation
from common.redaction import redacted
from common.version import VERSION
from eshop_cli import (
    arguments,
    dev_token,
    events,
    exit_codes,
    health,
    orders,
    products,
    serve,
    session,
    up,
)
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
    for option, variable, meaning in _TLS_OPTIONS:
        parser.add_argument(
            option,
            metavar="NAME" if option == "--server-name" else "FILE",
            default=default(os.environ.get(variable) or None),
            help=f"{meaning} (default: {variable})",
        )


# TLS to the services, as the servers' own TLS settings; any of the files turns TLS on.
_TLS_OPTIONS = (
    ("--ca-file", "ESHOP_CLI_TLS_CA_FILE", "verify the services with this CA (PEM); turns TLS on"),
    ("--cert-file", "ESHOP_CLI_TLS_CERT_FILE", "client certificate for mutual TLS (PEM)"),
    ("--key-file", "ESHOP_CLI_TLS_KEY_FILE", "its private key (PEM)"),
    ("--server-name", "ESHOP_CLI_TLS_SERVER_NAME", "name to verify when it differs from the address's host"),
)


def _tls(parser: argparse.ArgumentParser, args: argparse.Namespace) -> session.Tls:
    files = {name: getattr(args, name, None) for name in ("ca_file", "cert_file", "key_file")}
    if (files["cert_file"] is None) != (files["key_file"] is None):
        parser.error("--cert-file and --key-file (ESHOP_CLI_TLS_CERT_FILE, …_KEY_FILE) go together")
    for name, value in files.items():
        if value is not None and not Path(value).is_file():
            parser.error(f"--{name.replace('_', '-')}: no such file: {value}")
    paths = {name: None if value is None else Path(value) for name, value in files.items()}
    return session.Tls(**paths, server_name=getattr(args, "server_name", None))


class _Parser(argparse.ArgumentParser):
    """A usage error may echo what was typed, a broker or database URL with its password among it:
    the password is masked, whichever command or option the error is about (subcommands' parsers are
    of this class too)."""

    def error(self, message: str) -> NoReturn:
        super().error(redacted(message))


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="eshop",
        description="Run the eshop services and talk to them.",
        epilog="Exit codes: 0 ok, 1 failed (up/health), 2 usage, 3 NOT_FOUND, "
        "4 request refused or not allowed, 5 worth retrying (unavailable, deadline exceeded, aborted), "
        "6 other server error, "
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
    events.add_command(subparsers)
    return parser


def run(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    client = session.Session(
        product_address=args.product_address,
        order_address=args.order_address,
        timeout_s=args.timeout,
        correlation_id=args.correlation_id or correlation.new_id(),
        json=args.json,
        token=args.token,
        tls=_tls(parser, args),
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
