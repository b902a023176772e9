"""Drains the release outbox in the background, and reports on it while it is not empty."""

from __future__ import annotations

import time
from datetime import datetime, timezone

from loguru import logger

from order.application.stock_releases import StockReleases
from order.infrastructure.background import PeriodicWorker

STATS_INTERVAL_S = 60.0


class OutboxWorker(PeriodicWorker):
    def __init__(self, releases: StockReleases, poll_interval_s: float) -> None:
        super().__init__("release-outbox", self._tick, poll_interval_s)
        self._releases = releases
        self._last_report = float("-inf")

    async def _tick(self) -> None:
        await self._releases.deliver_due()
        now = time.monotonic()
        if now - self._last_report < STATS_INTERVAL_S:
            return
        stats = await self._releases.stats()
        if stats.waiting:
            self._last_report = now
            age = (datetime.now(timezone.utc) - stats.oldest).total_seconds() if stats.oldest else 0.0
            logger.info("release outbox: {} waiting, oldest {:.0f} s old", stats.waiting, age)
