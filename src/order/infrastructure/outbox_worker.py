"""The background worker that drains the release outbox, and reports on it while it is not empty."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

from loguru import logger

from order.application.stock_releases import StockReleases

STATS_INTERVAL_S = 60.0


class OutboxWorker:
    def __init__(self, releases: StockReleases, poll_interval_s: float) -> None:
        self._releases = releases
        self._poll = poll_interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_stats = 0.0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="release-outbox", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._releases.deliver_due()
                self._report()
            except Exception:
                # A database outage must not kill the worker: it retries on the next tick.
                logger.exception("release outbox pass failed; retrying in {} s", self._poll)
            self._stop.wait(self._poll)

    def _report(self) -> None:
        now = time.monotonic()
        if now - self._last_stats < STATS_INTERVAL_S:
            return
        stats = self._releases.stats()
        if stats.waiting:
            self._last_stats = now
            age = (datetime.now(timezone.utc) - stats.oldest).total_seconds() if stats.oldest else 0.0
            logger.info("release outbox: {} waiting, oldest {:.0f} s old", stats.waiting, age)
