"""Products and stock reservations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import Enum
from uuid import UUID

from product.domain.changes import ProductChanges
from product.domain.errors import ProductIsDeleted, ProductNotDeleted, StaleEtag
from product.domain.events import (
    ProductCreated,
    ProductDeleted,
    ProductEvent,
    ProductUndeleted,
    ProductUpdated,
    StockLow,
)


@dataclass
class Product:
    """A catalogue entry and its available stock. Its changes are its methods, each with its rules;
    storage writes what they changed (a stock move is an atomic increment or conditional decrement)."""

    product_id: UUID
    name: str
    description: str
    price: Decimal
    stock_quantity: int  # available now; reserved units are already taken out
    low_stock_threshold: int
    create_time: datetime
    update_time: datetime
    category: str = ""  # empty: none
    delete_time: datetime | None = None  # set while soft-deleted (AIP-164)
    # Moved on by every write of the product, stock moves included: the etag, and what a save
    # compares and sets, so two writers that read the same version cannot both win.
    version: int = 1
    # What its changes raised since it was read, for the unit of work to write with the change.
    events: list[ProductEvent] = field(default_factory=list, compare=False, repr=False)

    @staticmethod
    def create(
        *,
        product_id: UUID,
        name: str,
        description: str,
        price: Decimal,
        stock_quantity: int,
        low_stock_threshold: int,
        now: datetime,
        category: str = "",
    ) -> Product:
        """A new product (its creation raises no StockLow, whatever its stock)."""
        product = Product(
            product_id=product_id,
            name=name,
            description=description,
            price=price,
            stock_quantity=stock_quantity,
            low_stock_threshold=low_stock_threshold,
            create_time=now,
            update_time=now,
            category=category,
        )
        product.events.append(ProductCreated())
        return product

    @property
    def deleted(self) -> bool:
        return self.delete_time is not None

    @property
    def etag(self) -> str:
        """AIP-154: opaque to callers, who compare it for equality only."""
        return str(self.version)

    def require_etag(self, etag: str) -> None:
        """A request's etag must be the current one (ABORTED otherwise); an empty one checks nothing."""
        if etag and etag != self.etag:
            raise StaleEtag(self.product_id)

    # Each change checks the product's state before the etag: a change its state refuses is refused
    # as such (FAILED_PRECONDITION) whatever etag comes with it, a retried delete included.

    def update(self, changes: ProductChanges, now: datetime, *, etag: str = "") -> None:
        """Set the fields of the changes' mask (stock moves only by restocks and reservations)."""
        if self.deleted:
            raise ProductIsDeleted(self.product_id, "updated")
        self.require_etag(etag)
        if changes.name is not None:
            self.name = changes.name
        if changes.description is not None:
            self.description = changes.description
        if changes.price is not None:
            self.price = changes.price
        if changes.low_stock_threshold is not None:
            self.low_stock_threshold = changes.low_stock_threshold
        if changes.category is not None:
            self.category = changes.category
        self.update_time = now
        # A threshold raised above the stock is no StockLow: only a reservation crossing it is.
        self.events.append(ProductUpdated(changes.mask))

    def restock(self, quantity: int, now: datetime) -> None:
        if self.deleted:
            raise ProductIsDeleted(self.product_id, "restocked")
        self.stock_quantity += quantity
        self.update_time = now

    def delete(self, now: datetime, *, etag: str = "") -> None:
        """Soft delete: kept, readable, but no longer listed or reservable until undeleted."""
        if self.deleted:
            raise ProductIsDeleted(self.product_id, "deleted again")
        self.require_etag(etag)
        self.delete_time = now
        self.update_time = now
        self.events.append(ProductDeleted())

    def undelete(self, now: datetime, *, etag: str = "") -> None:
        if not self.deleted:
            raise ProductNotDeleted(self.product_id)
        self.require_etag(etag)
        self.delete_time = None
        self.update_time = now
        self.events.append(ProductUndeleted())

    def took(self, quantity: int) -> None:
        """A reservation has taken ``quantity`` (storage's atomic decrement: this is the product after
        it): StockLow when that took the stock from above the threshold to at or below it."""
        before = self.stock_quantity + quantity
        if self.stock_quantity <= self.low_stock_threshold < before:
            self.events.append(StockLow())


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


def reserved_lines(
    requests: Sequence[StockRequest], taken: Mapping[UUID, Product]
) -> tuple[ReservedLine, ...]:
    """A reservation's lines, in request order, with the name and price of each product as its
    decrement left it (``taken``, by id)."""
    return tuple(
        ReservedLine(r.product_id, taken[r.product_id].name, taken[r.product_id].price, r.quantity)
        for r in requests
    )


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
