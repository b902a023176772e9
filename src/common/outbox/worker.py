"""Drains an outbox in the background, and reports on it while it is not empty.

Each entry waits out its own backoff between attempts; but when the connection to the receiver comes
back after being lost, whatever waited is tried at once: the receiver answers again, and the backoffs
(up to the outbox's max backoff) would otherwise hold entries back for that long. A pass delivers at
most one batch; the worker goes on with the next at once while passes deliver something (an order's
second event becomes due only once its first is delivered), and ``wake`` (after a commit that wrote
an entry) starts a pass without waiting for the poll interval.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Protocol

from loguru import logger

from common.background import PeriodicWorker, Wakeup
from common.outbox.delivery import OutboxStats

STATS_INTERVAL_S = 60.0
# Passes one tick makes at most before it lets the loop breathe (and sees whether it is stopping).
MAX_PASSES_PER_TICK = 20


class Drainable(Protocol):
    async def deliver_due(self, limit: int = 50) -> int: ...
    async def retry_waiting_now(self) -> int: ...
    async def stats(self) -> OutboxStats: ...


Connected = Callable[[], bool | Awaitable[bool]]


class OutboxWorker(PeriodicWorker):
    def __init__(
        self,
        outbox: Drainable,
        poll_interval_s: float,
        *,
        name: str,
        entries: str,
        receiver: str,
        connected: Connected = lambda: True,
        pause_while_disconnected: bool = False,
        wakeup: Wakeup | None = None,
    ) -> None:
        """``name``: the worker's (``release-outbox``), in its logs; ``entries`` and ``receiver`` name
        what it delivers and to whom (``releases``, ``product service``) in what it logs;
        ``connected``: whether the receiver can be reached now (it may try to connect);
        ``pause_while_disconnected``: make no attempt meanwhile (each would only fail and back off)."""
        super().__init__(name, self._tick, poll_interval_s, wakeup)
        self._outbox = outbox
        self._entries = entries
        self._receiver = receiver
        self._last_report = float("-inf")
        self._connected = connected
        self._pause = pause_while_disconnected
        self._was_connected = True

    async def _tick(self) -> None:
        answer = self._connected()
        connected = await answer if inspect.isawaitable(answer) else bool(answer)
        if connected and not self._was_connected:
            made_due = await self._outbox.retry_waiting_now()
            if made_due:
                logger.info(
                    "{} connected again: {} waiting {} tried now", self._receiver, made_due, self._entries
                )
        self._was_connected = connected
        if connected or not self._pause:
            for _ in range(MAX_PASSES_PER_TICK):
                if await self._outbox.deliver_due() <= 0 or self.stopping:
                    break
        await self._report()

    async def _report(self) -> None:
        now = time.monotonic()
        if now - self._last_report < STATS_INTERVAL_S:
            return
        stats = await self._outbox.stats()
        if stats.waiting:
            self._last_report = now
            age = (datetime.now(timezone.utc) - stats.oldest).total_seconds() if stats.oldest else 0.0
            what = self._name.replace("-", " ")
            logger.info("{}: {} waiting, oldest {:.0f} s old", what, stats.waiting, age)
