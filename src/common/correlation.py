"""The correlation id of the call being served, in a context variable so logs and clients can read it."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from loguru import logger

HEADER = "x-correlation-id"
_VALID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_current: ContextVar[str | None] = ContextVar("correlation_id", default=None)


def new_id() -> str:
    return str(uuid.uuid4())


def is_valid(value: str) -> bool:
    return _VALID.fullmatch(value) is not None


def accept_or_new(value: str | bytes | None) -> str:
    """The caller's id when it is well-formed (1-128 of [A-Za-z0-9._:-]), else a fresh UUID4."""
    if isinstance(value, str) and is_valid(value):
        return value
    return new_id()


def current() -> str | None:
    return _current.get()


@contextmanager
def bound(correlation_id: str) -> Iterator[str]:
    """Make ``correlation_id`` current and put it on every log line written inside the block."""
    token = _current.set(correlation_id)
    try:
        with logger.contextualize(correlation_id=correlation_id):
            yield correlation_id
    finally:
        _current.reset(token)
