"""What happens to a product that other systems may want to know: raised by the product's methods,
written to the event outbox with the change by the unit of work, published as the contract's messages
with the product as it is after the change (``ProductCreated``, ``ProductUpdated``, ``ProductDeleted``,
``StockLow``; an undelete is published as a ``ProductUpdated`` of ``delete_time``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProductEvent:
    """Something that happened to the product that raised it."""


@dataclass(frozen=True)
class ProductCreated(ProductEvent):
    pass


@dataclass(frozen=True)
class ProductUpdated(ProductEvent):
    """The fields of ``mask`` (the update's effective mask) were set."""

    mask: tuple[str, ...]


@dataclass(frozen=True)
class ProductDeleted(ProductEvent):
    pass


@dataclass(frozen=True)
class ProductUndeleted(ProductEvent):
    pass


@dataclass(frozen=True)
class StockLow(ProductEvent):
    """A reservation took the available stock from above the low-stock threshold to at or below it."""
