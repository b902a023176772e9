"""``eshop dev-token``: a token for local testing, signed with the dev key ``eshop up --auth`` made under
``./.eshop/`` (there is no key in the code: without ``eshop up --auth`` there is nothing to sign with)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from common.auth.dev_keys import JWKS_FILE, PRIVATE_KEY_FILE, DevKeys, ensure_dev_keys, mint_token
from eshop_cli import exit_codes
from eshop_cli.output import info
from eshop_cli.session import Session

DEV_KEYS_DIRECTORY = Path(".eshop")
AUDIENCES = ("product", "order", "both")
DEFAULT_TTL_S = 3600
MAX_TTL_S = 7 * 24 * 3600


def add_command(subparsers: Any) -> None:
    command = subparsers.add_parser(
        "dev-token",
        help="print a token signed with the dev key of `eshop up --auth` (local testing only)",
        description="Print a bearer token for the services `eshop up --auth` started from this directory. "
        "A customer token is one whose --sub is the customer id; scopes: catalog:write, "
        "stock:reserve, orders:admin.",
    )
    command.add_argument("--sub", required=True, help="subject: the customer id for a customer token")
    command.add_argument(
        "--scope",
        action="append",
        default=[],
        metavar="SCOPE",
        help="a scope to grant (repeat, or space-separated); none for a plain customer token",
    )
    command.add_argument(
        "--audience",
        choices=AUDIENCES,
        default="both",
        help="which service accepts it (default both)",
    )
    command.add_argument(
        "--ttl",
        type=_ttl,
        default=DEFAULT_TTL_S,
        metavar="SECONDS",
        help=f"lifetime (default {DEFAULT_TTL_S}, at most {MAX_TTL_S})",
    )
    command.set_defaults(handler=run_dev_token)


def _ttl(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of seconds: {text!r}") from None
    if not 0 < value <= MAX_TTL_S:
        raise argparse.ArgumentTypeError(f"must be from 1 to {MAX_TTL_S} seconds: {text!r}")
    return value


def audiences(which: str) -> list[str]:
    """The ``aud`` values for product|order|both: *_AUTH_AUDIENCE as the services will read them."""
    from order.settings import OrderSettings  # imported when called, as in serve.py
    from product.settings import ProductSettings

    product = os.environ.get("PRODUCT_AUTH_AUDIENCE") or str(
        ProductSettings.model_fields["auth_audience"].default
    )
    order = os.environ.get("ORDER_AUTH_AUDIENCE") or str(OrderSettings.model_fields["auth_audience"].default)
    return {"product": [product], "order": [order], "both": [product, order]}[which]


def existing_dev_keys(directory: Path = DEV_KEYS_DIRECTORY) -> DevKeys | None:
    if not (directory / PRIVATE_KEY_FILE).exists() or not (directory / JWKS_FILE).exists():
        return None
    return ensure_dev_keys(directory)  # both files exist: reads them, makes nothing


def run_dev_token(args: argparse.Namespace, _session: Session) -> int:
    keys = existing_dev_keys()
    if keys is None:
        info(f"eshop dev-token: no dev key under ./{DEV_KEYS_DIRECTORY}/; run `eshop up --auth` here first")
        return exit_codes.FAILED
    scopes = sorted({scope for given in args.scope for scope in given.split()})
    print(
        mint_token(keys, subject=args.sub, scopes=scopes, audience=audiences(args.audience), ttl_s=args.ttl)
    )
    return exit_codes.OK
