"""AIP-158 paging: page_size with a default and a cap, opaque page tokens."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from common.errors import FieldViolation, InvalidArgument

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


def effective_page_size(requested: int) -> int:
    if requested <= 0:
        return DEFAULT_PAGE_SIZE
    return min(requested, MAX_PAGE_SIZE)


def encode_token(position: dict[str, Any]) -> str:
    raw = json.dumps(position, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, *, keys: set[str], field: str = "page_token") -> dict[str, Any] | None:
    """The position a token holds, None for the first page; INVALID_ARGUMENT for anything forged."""
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        position = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError):
        position = None
    if not isinstance(position, dict) or set(position) != keys:
        raise InvalidArgument([FieldViolation(field, "is not a token returned by a previous call")])
    return position
