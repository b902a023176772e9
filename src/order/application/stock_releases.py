"""Durable stock releases: queued in the outbox with the order's change, delivered until acknowledged.

A release must never be lost (the stock would stay reserved forever) and must never fail a
cancellation. So it is written to the outbox in the same transaction as the status change, tried at
once, and retried with capped exponential backoff and jitter by a background worker, across restarts.
Delivery may repeat (a crash between the call and marking it done); ReleaseStock is idempotent.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from uuid import UUID

from loguru import logger

from common import call_context, telemetry
from common.backoff import Backoff
from common.call_context import Origin
from common.clock import Clock
from order.application.outcomes import ACKNOWLEDGED, FAILED, NO_OUTCOMES, OrderOutcomes
from order.application.product_client import ProductClient, ProductServiceUnavailable
from order.application.storage import OrderUnitOfWork, OutboxStats, PendingRelease

# The immediate attempt never takes more than this share of what its caller still waits for, so the
# caller's answer (written already) is not lost to a slow Product service.
IMMEDIATE_SHARE_OF_REMAINING = 0.5


def immediate_attempt_budget(attempt_timeout_s: float, remaining_s: float | None) -> float:
    """Seconds the release tried right after a commit may take: the setting, or half of what the
    caller has left if that is less (None: the caller set no deadline)."""
    if remaining_s is None:
        return attempt_timeout_s
    return max(0.0, min(attempt_timeout_s, remaining_s * IMMEDIATE_SHARE_OF_REMAINING))


def release_backoff(initial_s: float, max_s: float) -> Backoff:
    """The outbox's delays between attempts: capped exponential, 50-100 % jitter so that replicas
    recovering together do not call in lockstep."""
    return Backoff(initial_s=initial_s, max_s=max_s, jitter=0.5)


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
        *,
        attempt_timeout_s: float = 0.3,
        outcomes: OrderOutcomes = NO_OUTCOMES,
    ) -> None:
        self._outcomes = outcomes
        self._uow_factory = uow_factory
        self._client = product_client
        self._clock = clock
        self._backoff = backoff
        self._lease = timedelta(seconds=lease_s)
        self._attempt_timeout_s = attempt_timeout_s
        # The worker leaves a release tried at once alone only while that short attempt may still run:
        # if the process dies right after the commit, the worker takes it over within about a second.
        self._immediate_lease = timedelta(seconds=lease_outlasting(attempt_timeout_s))

    def queue(
        self, uow: OrderUnitOfWork, order_id: UUID, origin: Origin, *, deliver_now: bool
    ) -> PendingRelease:
        """Add a release to the caller's transaction, to be delivered with ``origin``'s correlation id
        and in its trace. With ``deliver_now`` the caller will try it right after committing, so the
        worker leaves it alone for a short lease."""
        now = self._clock()
        first_attempt = now + self._immediate_lease if deliver_now else now
        return uow.outbox.add(order_id, origin, now, first_attempt)

    async def deliver_now(self, entry: PendingRelease, time_remaining_s: float | None) -> bool:
        """The attempt made on the caller's request path, right after its commit, for a caller with
        ``time_remaining_s`` left (None: no deadline): a small budget (see ``immediate_attempt_budget``);
        whatever does not finish in it is the outbox worker's."""
        budget = immediate_attempt_budget(self._attempt_timeout_s, time_remaining_s)
        return await self.deliver(entry, budget)

    async def deliver(self, entry: PendingRelease, within_s: float | None = None) -> bool:
        """One attempt, of at most ``within_s`` (None: the client's own timeout); True when the Product
        service acknowledged. Never raises for an outage."""
        with (
            call_context.correlation_bound(entry.correlation_id),
            telemetry.resumed(
                entry.trace_context, "eshop.outbox.deliver", {"eshop.order_id": str(entry.order_id)}
            ),
        ):
            try:
                released = await self._release(entry.order_id, within_s)
            except ProductServiceUnavailable as error:
                self._outcomes.release_attempted(FAILED)
                await self._retry_later(entry, str(error))
                return False
            uow = self._uow_factory()
            await uow.run(_mark_done, uow, entry.entry_id)
            self._outcomes.release_attempted(ACKNOWLEDGED)
            logger.bind(order_id=str(entry.order_id)).info(
                "stock release for order {} acknowledged ({})",
                entry.order_id,
                "released" if released else "nothing was held",
            )
            return True

    async def _release(self, order_id: UUID, within_s: float | None) -> bool:
        if within_s is None:
            return await self._client.release(order_id)
        # A deadline of its own for this one call only: the caller's answer must not wait for it.
        with call_context.deadline_bound(within_s):
            return await self._client.release(order_id)

    async def deliver_due(self, limit: int = 50) -> int:
        """Deliver every release that is due and not leased by another worker; returns how many landed."""
        now = self._clock()
        reader = self._uow_factory()
        due = await reader.run(lambda: reader.outbox.due(now, limit))
        delivered = 0
        for entry in due:
            uow = self._uow_factory()
            claimed = await uow.run(_claim, uow, entry, now + self._lease)
            if claimed and await self.deliver(entry):
                delivered += 1
        return delivered

    async def retry_waiting_now(self) -> int:
        """Make every release waiting out its backoff due now (the Product service answers again);
        returns how many. One being delivered by another worker may be delivered twice meanwhile,
        which ReleaseStock, idempotent by order id, allows."""
        uow = self._uow_factory()
        return await uow.run(_retry_now, uow, self._clock())

    async def stats(self) -> OutboxStats:
        uow = self._uow_factory()
        return await uow.run(uow.outbox.stats)

    async def _retry_later(self, entry: PendingRelease, error: str) -> None:
        attempts = entry.attempts + 1
        delay = self._backoff.delay(attempts)
        at: datetime = self._clock() + timedelta(seconds=delay)
        uow = self._uow_factory()
        await uow.run(_schedule_retry, uow, entry.entry_id, attempts, at, error)
        logger.bind(order_id=str(entry.order_id)).warning(
            "stock release for order {} not acknowledged ({}); attempt {} failed, next in {:.1f} s",
            entry.order_id,
            error,
            attempts,
            delay,
        )


# The transactions of a delivery: each a short synchronous function run by the unit of work.


def _claim(uow: OrderUnitOfWork, entry: PendingRelease, until: datetime) -> bool:
    claimed = uow.outbox.claim(entry, until)
    uow.commit()
    return claimed


def _retry_now(uow: OrderUnitOfWork, now: datetime) -> int:
    made_due = uow.outbox.retry_now(now)
    uow.commit()
    return made_due


def _mark_done(uow: OrderUnitOfWork, entry_id: int) -> None:
    uow.outbox.done(entry_id)
    uow.commit()


def _schedule_retry(uow: OrderUnitOfWork, entry_id: int, attempts: int, at: datetime, error: str) -> None:
    uow.outbox.retry_later(entry_id, attempts, at, error)
    uow.commit()
