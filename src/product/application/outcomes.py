"""The outcomes ports: what the stock and catalogue use cases report for metrics, in their own terms (the
adapters in ``product.infrastructure.metrics`` turn them into OpenTelemetry instruments)."""

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

# The catalogue changes counted, and how each can end: closed sets, so that every pair can be exported
# from start-up.
UPDATE, DELETE, UNDELETE = "update", "delete", "undelete"
CATALOGUE_OPERATIONS = (UPDATE, DELETE, UNDELETE)
CHANGED, STALE_ETAG, NOT_FOUND, FAILED_PRECONDITION = (
    "changed",
    "stale_etag",
    "not_found",
    "failed_precondition",
)
CATALOGUE_RESULTS = (CHANGED, STALE_ETAG, NOT_FOUND, FAILED_PRECONDITION)


class StockOutcomes(Protocol):
    def reservation(self, result: str, units: int = 0) -> None:
        """A ReserveStock ended with ``result``; ``units`` taken from stock (reserved only)."""
        ...

    def released(self, units: int) -> None:
        """A ReleaseStock put ``units`` back."""
        ...


class CatalogueOutcomes(Protocol):
    def change(self, operation: str, result: str) -> None:
        """An update, delete or undelete (``operation``) ended with ``result``."""
        ...


class NoOutcomes:
    """Reports nowhere (handler unit tests, tools)."""

    def reservation(self, result: str, units: int = 0) -> None:
        pass

    def released(self, units: int) -> None:
        pass

    def change(self, operation: str, result: str) -> None:
        pass


NO_OUTCOMES = NoOutcomes()
