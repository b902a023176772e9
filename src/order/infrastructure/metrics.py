"""The Order service's business metrics: the outcomes port as OpenTelemetry counters, and gauges of
what the database holds (PENDING orders, the release outbox), refreshed by a background task every few
seconds and read from a cache at scrape time (a scrape never runs a query)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

from opentelemetry.metrics import Meter

from common.metrics import CachedValue
from order.application.stock_releases import StockReleases
from order.application.storage import OrderUnitOfWork
from order.infrastructure.background import PeriodicWorker

GAUGE_REFRESH_S = 5.0


class OtelOrderOutcomes:
    def __init__(self, meter: Meter) -> None:
        self._orders = meter.create_counter(
            "eshop.orders",
            unit="{order}",
            description="Orders that reached a final status, by outcome (and reason for rejections)",
        )
        self._releases = meter.create_counter(
            "eshop.outbox.deliveries",
            unit="{delivery}",
            description="Stock release deliveries to the Product service, by result (acknowledged, failed)",
        )

        self._reconciled = meter.create_counter(
            "eshop.reconciler.resolutions",
            unit="{order}",
            description="Abandoned PENDING orders the reconciler looked at, by result",
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
        releases: StockReleases,
        interval_s: float = GAUGE_REFRESH_S,
    ) -> None:
        super().__init__("order-gauges", self.refresh, interval_s)
        self._uow_factory = uow_factory
        self._releases = releases
        self.values = CachedValue()
        meter.create_observable_gauge(
            "eshop.orders.pending",
            [self.values.callback("orders_pending")],
            unit="{order}",
            description="Orders PENDING right now (refreshed every few seconds)",
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
        pending = await uow.run(uow.orders.count_pending)
        stats = await self._releases.stats()
        age = (datetime.now(timezone.utc) - stats.oldest).total_seconds() if stats.oldest else 0.0
        self.values.set(orders_pending=pending, outbox_pending=stats.waiting, outbox_oldest_age=max(age, 0.0))
