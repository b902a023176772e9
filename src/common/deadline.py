"""The rules of the call's deadline (kept in ``common.call_context``): work past it is abandoned rather
than committed, and outgoing calls never wait longer than the caller will."""

from __future__ import annotations

from common.call_context import time_remaining
from common.errors import DeadlineExceeded


def clamp(timeout_s: float) -> float:
    """``timeout_s``, shortened to what the caller still waits for."""
    left = time_remaining()
    return timeout_s if left is None else max(0.0, min(timeout_s, left))


def check() -> None:
    """Raise DEADLINE_EXCEEDED when the caller has given up: its answer would go nowhere."""
    left = time_remaining()
    if left is not None and left <= 0:
        raise DeadlineExceeded("the call's deadline passed before its work could be committed")
