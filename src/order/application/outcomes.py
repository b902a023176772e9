"""The outcomes port: what the Order use cases report for metrics, in their own terms (the adapter in
``order.infrastructure.metrics`` turns them into OpenTelemetry instruments)."""

from __future__ import annotations

from typing import Protocol

CONFIRMED, REJECTED, CANCELLED = "confirmed", "rejected", "cancelled"
PRODUCT_UNAVAILABLE = "product_unavailable"


class OrderOutcomes(Protocol):
    def order_resolved(self, outcome: str, reason: str = "") -> None:
        """An order became CONFIRMED, REJECTED (with ``reason``) or CANCELLED (committed)."""
        ...

    def release_attempted(self, result: str) -> None:
        """A release delivery ended: ``acknowledged`` or ``failed`` (retried later)."""
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
