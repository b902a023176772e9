"""Waiting between tries of something that may work later: one capped exponential backoff, and the
pauses it gives until a deadline.

``Backoff.delay(n)`` is the pause after the n-th failure (the outbox reschedules a release with it);
``Pauses`` waits those pauses one by one until a point in time (a busy SQLite file, a duplicate
request whose first call is still running, a database not reachable yet at start).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    initial_s: float = 0.5
    max_s: float = 10.0
    multiplier: float = 2.0
    # The share of each delay that may be taken off at random (0.5: 50-100 % of it), so that replicas
    # recovering together do not try in lockstep; 0 for none.
    jitter: float = 0.0

    def delay(self, attempts: int) -> float:
        """The pause after ``attempts`` failures: ``initial_s`` times ``multiplier`` per further failure,
        capped at ``max_s``, less its jitter."""
        try:
            grown = self.initial_s * self.multiplier ** max(attempts - 1, 0)
        except OverflowError:  # after ~1000 failures (hours of outage) the power no longer fits a float
            grown = self.max_s
        base = min(self.max_s, grown)
        if not self.jitter:
            return base
        return base * random.uniform(1.0 - self.jitter, 1.0)


class Pauses:
    """The pauses between tries, growing by ``backoff``, until ``give_up_at`` (``time.monotonic()``):
    ``await pauses.wait()`` (or ``wait_blocking()`` off the event loop) sleeps the next one and returns
    True, or returns False at once when no time is left. The last pause is cut to the time left."""

    def __init__(
        self,
        backoff: Backoff,
        give_up_at: float,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._backoff = backoff
        self._give_up_at = give_up_at
        self._sleep = sleep
        self._failures = 0

    def _next(self) -> float | None:
        left = self._give_up_at - time.monotonic()
        if left <= 0:
            return None
        self._failures += 1
        return min(self._backoff.delay(self._failures), left)

    async def wait(self) -> bool:
        pause = self._next()
        if pause is None:
            return False
        await self._sleep(pause)
        return True

    def wait_blocking(self) -> bool:
        pause = self._next()
        if pause is None:
            return False
        time.sleep(pause)
        return True
