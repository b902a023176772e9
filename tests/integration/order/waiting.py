"""Polling with a deadline, for outcomes that arrive in the background (the release outbox)."""

from __future__ import annotations

import time
from collections.abc import Callable


def eventually(predicate: Callable[[], bool], timeout: float = 10.0, interval: float = 0.05) -> None:
    """Return as soon as ``predicate()`` holds; fail the test if it does not within ``timeout`` s."""
    give_up = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > give_up:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)
