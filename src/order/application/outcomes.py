"""The outcomes port: what the Order use cases report for metrics, in their own terms (the adapter in
``order.infrastructure.metrics`` turns them into OpenTelemetry instruments)."""

from __future__ import annotations

from typing import Protocol

CONFIRMED, REJECTED, CANCELLED = "confirmed", "rejected", "cancelled"
# Why an order was rejected: the Product service refused (three kinds), could not be reached, or the
# order was abandoned by a crash and rejected by the reconciler.
INSUFFICIENT_STOCK, UNKNOWN_PRODUCT, CONFLICT = "insufficient_stock", "unknown_product", "conflict"
PRODUCT_UNAVAILABLE = "product_unavailable"
ABANDONED = "abandoned"
REJECTION_REASONS = (INSUFFICIENT_STOCK, UNKNOWN_PRODUCT, CONFLICT, PRODUCT_UNAVAILABLE, ABANDONED)
# Every (outcome, reason) an order can end with; the metric exports each from start-up.
ORDER_OUTCOMES: tuple[tuple[str, str], ...] = (
    (CONFIRMED, ""),
    (CANCELLED, ""),
    *((REJECTED, reason) for reason in REJECTION_REASONS),
)
ACKNOWLEDGED, FAILED = "acknowledged", "failed"
DELIVERY_RESULTS = (ACKNOWLEDGED, FAILED)
DEFERRED, LOST_RACE = "deferred", "lost_race"
RECONCILER_RESULTS = (CONFIRMED, REJECTED, DEFERRED, LOST_RACE)


class OrderOutcomes(Protocol):
    def order_resolved(self, outcome: str, reason: str = "") -> None:
        """An order became CONFIRMED, REJECTED (with ``reason``) or CANCELLED (committed)."""
        ...

    def release_attempted(self, result: str) -> None:
        """A release delivery attempt ended: ``acknowledged`` (the release landed: once per release)
        or ``failed`` (retried later: a release may fail many times before it lands)."""
        ...

    def reconciled(self, result: str) -> None:
        """The reconciler looked at an abandoned PENDING order: ``confirmed``, ``rejected``,
        ``deferred`` (the Product service did not answer) or ``lost_race`` (someone else resolved it)."""
        ...


class NoOutcomes:
    """Reports nowhere (handler unit tests, tools)."""

    def order_resolved(self, outcome: str, reason: str = "") -> None:
        pass

    def release_attempted(self, result: str) -> None:
        pass

    def reconciled(self, result: str) -> None:
        pass


NO_OUTCOMES = NoOutcomes()
