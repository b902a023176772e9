"""Correlation ids: what ``x-correlation-id`` accepts, and fresh ones. The id of the call being served is
in ``common.call_context``."""

from __future__ import annotations

import re
import uuid

HEADER = "x-correlation-id"
_VALID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def new_id() -> str:
    return str(uuid.uuid4())


def is_valid(value: str) -> bool:
    return _VALID.fullmatch(value) is not None


def accept_or_new(value: str | bytes | None) -> str:
    """The caller's id when it is well-formed (1-128 of [A-Za-z0-9._:-]), else a fresh UUID4."""
    if isinstance(value, str) and is_valid(value):
        return value
    return new_id()
