"""AIP-158 paging: page_size with a default and a cap, opaque page tokens."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

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


def encode_keyset(time: datetime, key: UUID) -> str:
    """A token for "after (time, key)" in a list ordered by (time, key)."""
    return encode_token({"t": time.isoformat(), "id": str(key)})


def decode_keyset(token: str, field: str = "page_token") -> tuple[datetime, UUID] | None:
    """The (time, key) position a token from ``encode_keyset`` holds; None for the first page."""
    position = decode_token(token, keys={"t", "id"}, field=field)
    if position is None:
        return None
    try:
        time, key = datetime.fromisoformat(str(position["t"])), UUID(str(position["id"]))
        # A forged time without a zone, or out of range in UTC, would otherwise fail later in the
        # database layer as INTERNAL.
        if time.tzinfo is None:
            raise ValueError("page token time has no zone")
        return time.astimezone(timezone.utc), key
    except (ValueError, OverflowError):
        raise InvalidArgument([FieldViolation(field, "is not a token returned by a previous call")]) from None
