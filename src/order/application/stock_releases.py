"""Durable stock releases: queued in the outbox with the order's change, delivered until acknowledged.

A release must never be lost (the stock would stay reserved forever) and must never fail a
cancellation. So it is written to the outbox in the same transaction as the status change, tried at
once, and retried with capped exponential backoff and jitter by a background worker, across restarts
(the outbox's delivery, ``common.outbox``, shared with the integration events). Delivery may repeat
(a crash between the call and marking it done); ReleaseStock is idempotent.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from uuid import UUID

from loguru import logger

from common import call_context
from common.backoff import Backoff
from common.call_context import Origin
from common.clock import Clock
from common.outbox.backoff import lease_outlasting
from common.outbox.delivery import NotDelivered, OutboxDelivery, OutboxStats
from order.application.outcomes import ACKNOWLEDGED, FAILED, NO_OUTCOMES, OrderOutcomes
from order.application.product_client import ProductClient, ProductServiceUnavailable
from order.application.storage import OrderUnitOfWork, PendingRelease

# The immediate attempt never takes more than this share of what its caller still waits for, so the
# caller's answer (written already) is not lost to a slow Product service.
IMMEDIATE_SHARE_OF_REMAINING = 0.5


def immediate_attempt_budget(attempt_timeout_s: float, remaining_s: float | None) -> float:
    """Seconds the release tried right after a commit may take: the setting, or half of what the
    caller has left if that is less (None: the caller set no deadline)."""
    if remaining_s is None:
        return attempt_timeout_s
    return max(0.0, min(attempt_timeout_s, remaining_s * IMMEDIATE_SHARE_OF_REMAINING))


class StockReleases:
    """The release outbox: what a release is (a ReleaseStock call to the Product service), queued by
    the handlers and delivered by ``common.outbox``'s delivery."""

    failure_log_level = "WARNING"
    span_kind = "internal"

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
        self._client = product_client
        self._clock = clock
        self._attempt_timeout_s = attempt_timeout_s
        # The worker leaves a release tried at once alone only while that short attempt may still run:
        # if the process dies right after the commit, the worker takes it over within about a second.
        self._immediate_lease = timedelta(seconds=lease_outlasting(attempt_timeout_s))
        self._outbox: OutboxDelivery[OrderUnitOfWork, PendingRelease] = OutboxDelivery(
            uow_factory, lambda uow: uow.outbox, self, clock, backoff=backoff, lease_s=lease_s
        )

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
        return await self._outbox.attempt(entry, budget)

    async def deliver_due(self, limit: int = 50) -> int:
        """Deliver every release that is due and not leased by another worker; returns how many landed."""
        return await self._outbox.deliver_due(limit)

    async def retry_waiting_now(self) -> int:
        """Make every release waiting out its backoff due now (the Product service answers again);
        returns how many. One being delivered by another worker may be delivered twice meanwhile,
        which ReleaseStock, idempotent by order id, allows."""
        return await self._outbox.retry_waiting_now()

    async def stats(self) -> OutboxStats:
        return await self._outbox.stats()

    # What a release is, for the outbox's delivery (common.outbox.delivery.Delivery).

    def describe(self, entry: PendingRelease) -> str:
        return f"stock release for order {entry.order_id}"

    def log_extras(self, entry: PendingRelease) -> dict[str, str]:
        return {"order_id": str(entry.order_id)}

    def span(self, entry: PendingRelease) -> tuple[str, dict[str, str]]:
        return "eshop.outbox.deliver", {"eshop.order_id": str(entry.order_id)}

    async def send(self, entry: PendingRelease, within_s: float | None) -> None:
        try:
            released = await self._release(entry.order_id, within_s)
        except ProductServiceUnavailable as error:
            raise NotDelivered(str(error)) from error
        logger.bind(order_id=str(entry.order_id)).info(
            "stock release for order {} acknowledged ({})",
            entry.order_id,
            "released" if released else "nothing was held",
        )

    def delivered(self, entry: PendingRelease) -> None:
        self._outcomes.release_attempted(ACKNOWLEDGED)

    def failed(self, entry: PendingRelease) -> None:
        self._outcomes.release_attempted(FAILED)

    async def _release(self, order_id: UUID, within_s: float | None) -> bool:
        if within_s is None:
            return await self._client.release(order_id)
        # A deadline of its own for this one call only: the caller's answer must not wait for it.
        with call_context.deadline_bound(within_s):
            return await self._client.release(order_id)
