"""Drains the release outbox in the background, and reports on it while it is not empty.

Each release waits out its own backoff between attempts; but when the connection to the Product service
comes back after being lost, whatever waited is tried at once: the service answers again, and the
backoffs (up to ORDER_OUTBOX_MAX_BACKOFF_S) would otherwise hold releases back for that long.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone

from loguru import logger

from common.background import PeriodicWorker
from order.application.stock_releases import StockReleases

STATS_INTERVAL_S = 60.0


class OutboxWorker(PeriodicWorker):
    def __init__(
        self,
        releases: StockReleases,
        poll_interval_s: float,
        product_connected: Callable[[], bool] = lambda: True,
    ) -> None:
        """``product_connected``: whether the channel to the Product service is connected now."""
        super().__init__("release-outbox", self._tick, poll_interval_s)
        self._releases = releases
        self._last_report = float("-inf")
        self._connected = product_connected
        self._was_connected = True

    async def _tick(self) -> None:
        connected = self._connected()
        if connected and not self._was_connected:
            made_due = await self._releases.retry_waiting_now()
            if made_due:
                logger.info("product service connected again: {} waiting releases tried now", made_due)
        self._was_connected = connected
        await self._releases.deliver_due()
        now = time.monotonic()
        if now - self._last_report < STATS_INTERVAL_S:
            return
        stats = await self._releases.stats()
        if stats.waiting:
            self._last_report = now
            age = (datetime.now(timezone.utc) - stats.oldest).total_seconds() if stats.oldest else 0.0
            logger.info("release outbox: {} waiting, oldest {:.0f} s old", stats.waiting, age)
