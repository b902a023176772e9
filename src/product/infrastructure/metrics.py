"""The Product service's business metrics: the outcomes port as OpenTelemetry counters, and the
low-stock gauge, refreshed by a periodic worker every few seconds and read from a cache at scrape time."""

from __future__ import annotations

from collections.abc import Callable

from opentelemetry.metrics import Meter

from common.background import PeriodicWorker
from common.events.metrics import EventMetrics
from common.metrics import CachedValue, counter_from_zero, label_sets
from product.application.outcomes import CATALOGUE_OPERATIONS, CATALOGUE_RESULTS, RESERVATION_RESULTS
from product.application.storage import ProductUnitOfWork

GAUGE_REFRESH_S = 5.0


class OtelStockOutcomes:
    """Every counter exported from start-up, each result at 0."""

    def __init__(self, meter: Meter) -> None:
        self._reservations = counter_from_zero(
            meter,
            "eshop.stock.reservations",
            unit="{reservation}",
            description="ReserveStock outcomes: reserved, insufficient_stock, unknown_product, replayed",
            known=label_sets(result=RESERVATION_RESULTS),
        )
        self._reserved = counter_from_zero(
            meter,
            "eshop.stock.units_reserved",
            unit="{unit}",
            description="Units taken from stock by reservations",
        )
        self._released = counter_from_zero(
            meter, "eshop.stock.units_released", unit="{unit}", description="Units put back by releases"
        )

    def reservation(self, result: str, units: int = 0) -> None:
        self._reservations.add(1, {"result": result})
        if units:
            self._reserved.add(units)

    def released(self, units: int) -> None:
        self._released.add(units)


class OtelCatalogueOutcomes:
    """Updates, deletes and undeletes by result, exported from start-up at 0 for each of
    ``CATALOGUE_OPERATIONS`` with each of ``CATALOGUE_RESULTS`` (the outcomes port's closed sets)."""

    def __init__(self, meter: Meter) -> None:
        self._changes = counter_from_zero(
            meter,
            "eshop.catalogue.changes",
            unit="{change}",
            description=f"UpdateProduct, DeleteProduct and UndeleteProduct calls by operation "
            f"({', '.join(CATALOGUE_OPERATIONS)}) and result ({', '.join(CATALOGUE_RESULTS)})",
            known=label_sets(operation=CATALOGUE_OPERATIONS, result=CATALOGUE_RESULTS),
        )

    def change(self, operation: str, result: str) -> None:
        self._changes.add(1, {"operation": operation, "result": result})


class ProductGauges(PeriodicWorker):
    """Products at or below their low-stock threshold, computed every ``interval_s`` on the server's loop."""

    def __init__(
        self,
        meter: Meter,
        uow_factory: Callable[[], ProductUnitOfWork],
        events: EventMetrics | None = None,
        interval_s: float = GAUGE_REFRESH_S,
    ) -> None:
        super().__init__("product-gauges", self.refresh, interval_s)
        self._uow_factory = uow_factory
        self._events = events
        self.values = CachedValue()
        meter.create_observable_gauge(
            "eshop.products.low_stock",
            [self.values.callback("low_stock")],
            unit="{product}",
            description="Products at or below their low-stock threshold (refreshed every few seconds)",
        )

    async def refresh(self) -> None:
        uow = self._uow_factory()
        self.values.set(low_stock=await uow.run(uow.products.count_low_stock))
        if self._events is not None:
            self._events.backlog(await uow.run(uow.events.stats))
