"""What happens to an order that other systems may want to know: raised by the order's methods,
written to the event outbox with the change by the unit of work, published as the contract's messages
(``OrderConfirmed``, ``OrderRejected``, ``OrderCancelled``) with the order as it is after the change."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OrderEvent:
    """Something that happened to the order that raised it."""


@dataclass(frozen=True)
class OrderConfirmed(OrderEvent):
    """Its stock was reserved: CONFIRMED."""


@dataclass(frozen=True)
class OrderRejected(OrderEvent):
    """It ended REJECTED (why: its ``status_reason``)."""


@dataclass(frozen=True)
class OrderCancelled(OrderEvent):
    """PENDING or CONFIRMED became CANCELLED."""
