"""Durable stock releases: queued in the outbox with the order's change, delivered until acknowledged.

A release must never be lost (the stock would stay reserved forever) and must never fail a
cancellation. So it is written to the outbox in the same transaction as the status change, tried at
once, and retried with capped exponential backoff and jitter by a background worker, across restarts.
Delivery may repeat (a crash between the call and marking it done); ReleaseStock is idempotent.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from loguru import logger

from common import correlation
from common.clock import Clock
from order.application.product_client import ProductClient, ProductServiceUnavailable
from order.application.storage import OrderUnitOfWork, OutboxStats, PendingRelease


@dataclass(frozen=True)
class Backoff:
    initial_s: float = 0.5
    max_s: float = 10.0
    multiplier: float = 2.0

    def delay(self, attempts: int) -> float:
        """Delay before the next try after ``attempts`` failures: capped exponential, 50-100 % jitter
        so that replicas recovering together do not call in lockstep."""
        try:
            grown = self.initial_s * self.multiplier ** max(attempts - 1, 0)
        except OverflowError:  # after ~1000 failures (hours of outage) the power no longer fits a float
            grown = self.max_s
        base = min(self.max_s, grown)
        return base * random.uniform(0.5, 1.0)


def lease_outlasting(call_timeout_s: float) -> float:
    """How long a claimed release is left to its claimant: longer than one delivery (a call of at most
    ``call_timeout_s``, then a commit) can take, so two workers do not deliver it at the same time."""
    return 2 * call_timeout_s + 1


class StockReleases:
    def __init__(
        self,
        uow_factory: Callable[[], OrderUnitOfWork],
        product_client: ProductClient,
        clock: Clock,
        backoff: Backoff,
        lease_s: float,
    ) -> None:
        self._uow_factory = uow_factory
        self._client = product_client
        self._clock = clock
        self._backoff = backoff
        self._lease = timedelta(seconds=lease_s)

    def queue(self, uow: OrderUnitOfWork, order_id: UUID, *, deliver_now: bool) -> PendingRelease:
        """Add a release to the caller's transaction. With ``deliver_now`` the caller will try it right
        after committing, so the worker leaves it alone for a lease period."""
        now = self._clock()
        first_attempt = now + self._lease if deliver_now else now
        cid = correlation.current() or correlation.new_id()
        return uow.outbox.add(order_id, cid, now, first_attempt)

    def deliver(self, entry: PendingRelease) -> bool:
        """One attempt; True when the Product service acknowledged. Never raises for an outage."""
        with correlation.bound(entry.correlation_id):
            try:
                released = self._client.release(entry.order_id)
            except ProductServiceUnavailable as error:
                self._retry_later(entry, str(error))
                return False
            with self._uow_factory() as uow:
                uow.outbox.done(entry.entry_id)
                uow.commit()
            logger.info(
                "stock release for order {} acknowledged ({})",
                entry.order_id,
                "released" if released else "nothing was held",
            )
            return True

    def deliver_due(self, limit: int = 50) -> int:
        """Deliver every release that is due and not leased by another worker; returns how many landed."""
        now = self._clock()
        with self._uow_factory() as uow:
            due = uow.outbox.due(now, limit)
        delivered = 0
        for entry in due:
            with self._uow_factory() as uow:
                claimed = uow.outbox.claim(entry, now + self._lease)
                uow.commit()
            if claimed and self.deliver(entry):
                delivered += 1
        return delivered

    def stats(self) -> OutboxStats:
        with self._uow_factory() as uow:
            return uow.outbox.stats()

    def _retry_later(self, entry: PendingRelease, error: str) -> None:
        attempts = entry.attempts + 1
        delay = self._backoff.delay(attempts)
        at: datetime = self._clock() + timedelta(seconds=delay)
        with self._uow_factory() as uow:
            uow.outbox.retry_later(entry.entry_id, attempts, at, error)
            uow.commit()
        logger.warning(
            "stock release for order {} not acknowledged ({}); attempt {} failed, next in {:.1f} s",
            entry.order_id,
            error,
            attempts,
            delay,
        )
