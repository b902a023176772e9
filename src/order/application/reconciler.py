"""Resolves orders left PENDING by a crash between reserving stock and recording the outcome.

An order PENDING for longer than any CreateOrder call can take was abandoned. The Product service is
asked what it holds: a held reservation confirms the order; none rejects it and queues a release (so a
reservation still in flight lands on the release marker instead of taking stock). Saves are
compare-and-set on PENDING, so replicas running this at once resolve each order once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from loguru import logger

from common import call_context, telemetry
from common.call_context import Origin
from common.clock import Clock
from order.application.outcomes import (
    ABANDONED,
    CONFIRMED,
    DEFERRED,
    LOST_RACE,
    NO_OUTCOMES,
    REJECTED,
    OrderOutcomes,
)
from order.application.product_client import ProductClient, ProductServiceUnavailable
from order.application.stock_releases import StockReleases
from order.application.storage import OrderUnitOfWork
from order.domain.model import Order

ABANDONED_REASON = "order was not completed in time; nothing is reserved for it"


class PendingOrderReconciler:
    def __init__(
        self,
        uow_factory: Callable[[], OrderUnitOfWork],
        product_client: ProductClient,
        releases: StockReleases,
        clock: Clock,
        pending_timeout_s: float,
        *,
        outcomes: OrderOutcomes = NO_OUTCOMES,
    ) -> None:
        self._outcomes = outcomes
        self._uow_factory = uow_factory
        self._client = product_client
        self._releases = releases
        self._clock = clock
        self._timeout = timedelta(seconds=pending_timeout_s)

    async def run_once(self, limit: int = 100) -> int:
        """Resolve up to ``limit`` abandoned orders; returns how many this call resolved."""
        cutoff = self._clock() - self._timeout
        reader = self._uow_factory()
        stale = await reader.run(lambda: reader.orders.pending_since_before(cutoff, limit))
        resolved = 0
        for order in stale:
            resolved += await self._resolve(order)
        return resolved

    async def _resolve(self, order: Order) -> bool:
        with (
            call_context.correlation_bound(f"reconcile:{order.order_id}") as cid,
            # In the trace of the CreateOrder that left the order PENDING (a trace of its own if unknown).
            telemetry.resumed(
                order.trace_context or "", "eshop.reconciler.resolve", {"eshop.order_id": str(order.order_id)}
            ),
        ):
            origin = Origin(cid, telemetry.current_trace_context())  # the release it may queue: this work
            try:
                held = await self._client.held_reservation(order.order_id)
            except ProductServiceUnavailable as error:
                self._outcomes.reconciled(DEFERRED)
                logger.bind(order_id=str(order.order_id)).warning(
                    "cannot resolve PENDING order {} yet: {}", order.order_id, error
                )
                return False
            now = self._clock()
            if held is not None:
                resolved = order.confirm(held.items, now)
            else:
                resolved = order.reject(ABANDONED_REASON, (), now)
            uow = self._uow_factory()
            if not await uow.run(self._save, uow, resolved, None if held is not None else origin):
                self._outcomes.reconciled(LOST_RACE)
                return False  # another replica (or the original call) got there first
            self._outcomes.reconciled(CONFIRMED if held is not None else REJECTED)
            # A final status like any other: eshop_orders_total counts it (the call that placed the
            # order never did).
            if held is not None:
                self._outcomes.order_resolved(CONFIRMED)
            else:
                self._outcomes.order_resolved(REJECTED, ABANDONED)
            logger.bind(order_id=str(order.order_id)).info(
                "PENDING order {} resolved as {}", order.order_id, resolved.status.value
            )
            return True

    def _save(self, uow: OrderUnitOfWork, resolved: Order, release: Origin | None) -> bool:
        """The resolution, with its release (from ``release``) when nothing is held, as one transaction."""
        if not uow.orders.save(resolved):
            return False
        if release is not None:
            self._releases.queue(uow, resolved.order_id, release, deliver_now=False)
        uow.commit()
        return True
