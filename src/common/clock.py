"""The clock the use cases read: a port, so tests can pass a fixed one."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Protocol


class Clock(Protocol):
    def __call__(self) -> datetime: ...


def utcnow() -> datetime:
    """The system clock, timezone-aware UTC: what the containers wire as ``Clock``."""
    return datetime.now(timezone.utc)
