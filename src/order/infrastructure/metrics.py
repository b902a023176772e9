"""The Order service's business metrics: the outcomes port as OpenTelemetry counters, and gauges of
what the database holds (PENDING orders, the release outbox), refreshed by a background task every few
seconds and read from a cache at scrape time (a scrape never runs a query)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

from opentelemetry.metrics import Meter

from common.background import PeriodicWorker
from common.events.metrics import EventMetrics
from common.metrics import CachedValue, counter_from_zero, label_sets
from order.application.outcomes import DELIVERY_RESULTS, ORDER_OUTCOMES, RECONCILER_RESULTS
from order.application.storage import OrderUnitOfWork

GAUGE_REFRESH_S = 5.0


class OtelOrderOutcomes:
    """Every counter exported from start-up, each known label value at 0."""

    def __init__(self, meter: Meter) -> None:
        self._orders = counter_from_zero(
            meter,
            "eshop.orders",
            unit="{order}",
            description="Orders that reached a final status, by outcome (and reason for rejections)",
            known=[{"outcome": outcome, "reason": reason} for outcome, reason in ORDER_OUTCOMES],
        )
        self._releases = counter_from_zero(
            meter,
            "eshop.outbox.deliveries",
            unit="{delivery}",
            description="Stock release delivery attempts, by result: acknowledged (once per release "
            "that landed) or failed (once per attempt that did not; it is retried)",
            known=label_sets(result=DELIVERY_RESULTS),
        )
        self._reconciled = counter_from_zero(
            meter,
            "eshop.reconciler.resolutions",
            unit="{order}",
            description="Abandoned PENDING orders the reconciler looked at, by result",
            known=label_sets(result=RECONCILER_RESULTS),
        )

    def order_resolved(self, outcome: str, reason: str = "") -> None:
        self._orders.add(1, {"outcome": outcome, "reason": reason})

    def release_attempted(self, result: str) -> None:
        self._releases.add(1, {"result": result})

    def reconciled(self, result: str) -> None:
        self._reconciled.add(1, {"result": result})


class OrderGauges(PeriodicWorker):
    """PENDING orders and the outbox backlog, computed every ``interval_s`` on the server's loop."""

    def __init__(
        self,
        meter: Meter,
        uow_factory: Callable[[], OrderUnitOfWork],
        events: EventMetrics | None = None,
        interval_s: float = GAUGE_REFRESH_S,
    ) -> None:
        """``uow_factory``: read-only units of work (the gauges only count; on SQLite a write one would
        queue behind every writer for the process's write lock)."""
        super().__init__("order-gauges", self.refresh, interval_s)
        self._uow_factory = uow_factory
        self._events = events
        self.values = CachedValue()
        meter.create_observable_gauge(
            "eshop.orders.pending",
            [self.values.callback("orders_pending")],
            unit="{order}",
            description="Orders PENDING right now (refreshed every few seconds)",
        )
        meter.create_observable_gauge(
            "eshop.orders.pending.oldest_age",
            [self.values.callback("orders_pending_oldest_age")],
            unit="s",
            description="Time since the order PENDING longest last changed (0 when none is PENDING)",
        )
        meter.create_observable_gauge(
            "eshop.outbox.pending",
            [self.values.callback("outbox_pending")],
            unit="{release}",
            description="Stock releases waiting in the outbox for the Product service's acknowledgement",
        )
        meter.create_observable_gauge(
            "eshop.outbox.oldest_age",
            [self.values.callback("outbox_oldest_age")],
            unit="s",
            description="Age of the oldest release waiting in the outbox (0 when it is empty)",
        )

    async def refresh(self) -> None:
        uow = self._uow_factory()
        pending = await uow.run(uow.orders.pending_stats)
        stats = await uow.run(uow.outbox.stats)
        if self._events is not None:
            self._events.backlog(await uow.run(uow.events.stats))
        self.values.set(
            orders_pending=pending.count,
            orders_pending_oldest_age=_age_s(pending.oldest),
            outbox_pending=stats.waiting,
            outbox_oldest_age=_age_s(stats.oldest),
        )


def _age_s(since: datetime | None) -> float:
    return 0.0 if since is None else max((datetime.now(timezone.utc) - since).total_seconds(), 0.0)
