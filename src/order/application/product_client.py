"""The product client port: what the Order service needs from the Product service, in its own terms."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from order.application.outcomes import CONFLICT
from order.domain.model import OrderItem, OrderLine


@dataclass(frozen=True)
class Reserved:
    items: tuple[OrderItem, ...]


@dataclass(frozen=True)
class ReservationRefused:
    """The Product service answered and said no: insufficient stock, unknown product, or a conflict."""

    reason: str
    failed_product_ids: tuple[UUID, ...]
    # For metrics: INSUFFICIENT_STOCK, UNKNOWN_PRODUCT or CONFLICT (order.application.outcomes).
    kind: str = CONFLICT


ReservationOutcome = Reserved | ReservationRefused


class ProductServiceUnavailable(Exception):
    """No answer after the retries, or past the deadline. The reservation may or may not have happened."""

    def __init__(self, message: str, *, deadline_exceeded: bool = False) -> None:
        super().__init__(message)
        self.deadline_exceeded = deadline_exceeded


class ProductClient(Protocol):
    async def reserve(self, order_id: UUID, lines: Sequence[OrderLine]) -> ReservationOutcome:
        """Reserve every line or none; idempotent by ``order_id``. Raises ProductServiceUnavailable."""
        ...

    async def held_reservation(self, order_id: UUID) -> Reserved | None:
        """The reservation the Product service holds for ``order_id``, or None if it holds none
        (never made, or released). Raises ProductServiceUnavailable."""
        ...

    async def release(self, order_id: UUID) -> bool:
        """Release what ``order_id`` reserved; True if something was released.
        Raises ProductServiceUnavailable."""
        ...
