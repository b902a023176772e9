"""Products and stock reservations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from uuid import UUID


@dataclass
class Product:
    product_id: UUID
    name: str
    description: str
    price: Decimal
    stock_quantity: int  # available now; reserved units are already taken out
    low_stock_threshold: int
    create_time: datetime
    update_time: datetime


@dataclass(frozen=True)
class StockRequest:
    product_id: UUID
    quantity: int


@dataclass(frozen=True)
class ReservedLine:
    """A reserved line with the name and price the product had when it was reserved."""

    product_id: UUID
    name: str
    unit_price: Decimal
    quantity: int


class ReservationStatus(str, Enum):
    ACTIVE = "ACTIVE"
    RELEASED = "RELEASED"


@dataclass(frozen=True)
class Reservation:
    order_id: UUID
    status: ReservationStatus
    lines: tuple[ReservedLine, ...]
    reserve_time: datetime

    def requested_the_same(self, requested: Sequence[StockRequest]) -> bool:
        """Whether a repeated ReserveStock asks for exactly what this reservation holds (order aside)."""
        mine = {(line.product_id, line.quantity) for line in self.lines}
        return len(self.lines) == len(requested) and mine == {(r.product_id, r.quantity) for r in requested}


@dataclass(frozen=True)
class Shortage:
    product_id: UUID
    requested: int
    available: int
