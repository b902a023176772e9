"""The outcomes port: what the stock use cases report for metrics, in their own terms (the adapter in
``product.infrastructure.metrics`` turns them into OpenTelemetry instruments)."""

from __future__ import annotations

from typing import Protocol

RESERVED, INSUFFICIENT_STOCK, UNKNOWN_PRODUCT, REPLAYED = (
    "reserved",
    "insufficient_stock",
    "unknown_product",
    "replayed",
)
# Every result a reservation can report (the metric exports each from start-up).
RESERVATION_RESULTS = (RESERVED, INSUFFICIENT_STOCK, UNKNOWN_PRODUCT, REPLAYED)


class StockOutcomes(Protocol):
    def reservation(self, result: str, units: int = 0) -> None:
        """A ReserveStock ended with ``result``; ``units`` taken from stock (reserved only)."""
        ...

    def released(self, units: int) -> None:
        """A ReleaseStock put ``units`` back."""
        ...


class NoOutcomes:
    """Reports nowhere (handler unit tests, tools)."""

    def reservation(self, result: str, units: int = 0) -> None:
        pass

    def released(self, units: int) -> None:
        pass


NO_OUTCOMES = NoOutcomes()
