"""argparse value types shared by the commands."""

from __future__ import annotations

import argparse

from common import correlation


def integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None


def non_negative(text: str) -> int:
    value = integer(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more: {text!r}")
    return value


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0: {text!r}")
    return value


def order_line(text: str) -> tuple[str, int]:
    """``PRODUCT_ID:QTY`` -> (product id, quantity); the server validates both."""
    product_id, sep, quantity = text.rpartition(":")
    if not sep or not product_id:
        raise argparse.ArgumentTypeError(f"expected PRODUCT_ID:QTY, got {text!r}")
    try:
        return product_id, int(quantity)
    except ValueError:
        raise argparse.ArgumentTypeError(f"quantity is not a whole number in {text!r}") from None


def correlation_id(text: str) -> str:
    # The servers would silently replace a malformed id; say so now rather than quote a different one later.
    if not correlation.is_valid(text):
        raise argparse.ArgumentTypeError("must be 1-128 characters of A-Z a-z 0-9 . _ : -")
    return text


def bearer_token(text: str) -> str:
    """A token as one printable ASCII word (a JWT is); the message never repeats what was given."""
    token = text.strip()
    if token.lower().startswith("bearer "):
        token = token[len("bearer ") :].strip()
    if not token or not all("!" <= ch <= "~" for ch in token):
        raise argparse.ArgumentTypeError(
            "not a bearer token (expected one line of printable ASCII, e.g. a JWT)"
        )
    return token
