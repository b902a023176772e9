"""The deadline of the call being served, so work past it is abandoned rather than committed, and
outgoing calls never wait longer than the caller will."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from common.errors import DeadlineExceeded

_deadline: ContextVar[float | None] = ContextVar("call_deadline", default=None)


@contextmanager
def bound(time_remaining_s: float | None) -> Iterator[None]:
    """Make ``time_remaining_s`` from now (None: no deadline) the current call's deadline."""
    value = None if time_remaining_s is None else time.monotonic() + time_remaining_s
    token = _deadline.set(value)
    try:
        yield
    finally:
        _deadline.reset(token)


def remaining() -> float | None:
    """Seconds left before the current call's deadline; None when there is none."""
    value = _deadline.get()
    return None if value is None else value - time.monotonic()


def clamp(timeout_s: float) -> float:
    """``timeout_s``, shortened to what the caller still waits for."""
    left = remaining()
    return timeout_s if left is None else max(0.0, min(timeout_s, left))


def check() -> None:
    """Raise DEADLINE_EXCEEDED when the caller has given up: its answer would go nowhere."""
    left = remaining()
    if left is not None and left <= 0:
        raise DeadlineExceeded("the call's deadline passed before its work could be committed")
