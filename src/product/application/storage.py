"""Storage ports of the Product service: products and reservations behind a unit of work; infrastructure
provides them, tests fake them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

from common.events.outbox import EventOutbox
from common.transactions import UnitOfWork
from product.domain.model import Product, Reservation, ReservedLine, StockRequest


class ProductRepository(Protocol):
    """Products, deleted ones included. Every write moves the product's version on."""

    def add(self, product: Product) -> None: ...
    def get(self, product_id: UUID) -> Product | None: ...
    def get_for_update(self, product_id: UUID) -> Product | None:
        """The product, which no other transaction can change until this one ends (a row lock)."""
        ...

    def save(self, product: Product) -> Product | None:
        """Write the catalogue fields and deletion of ``product`` (never its stock) if the stored
        version is still ``product.version``: the product as stored, or None if the version moved."""
        ...

    def get_many(self, product_ids: Sequence[UUID]) -> dict[UUID, Product]: ...
    def count_low_stock(self) -> int:
        """Live products whose stock is at or below their low-stock threshold (a gauge, read every few
        seconds)."""
        ...

    def list_after(
        self,
        after: tuple[datetime, UUID] | None,
        limit: int,
        *,
        category: str = "",
        show_deleted: bool = False,
    ) -> list[Product]:
        """Oldest first after ``after``; only ``category`` when one is given, live products only unless
        ``show_deleted``."""
        ...

    def try_take(self, product_id: UUID, quantity: int, now: datetime) -> Product | None:
        """Atomically take ``quantity`` from a live product's available stock if at least that much is
        there: the product as it is then (its name and price read in the same step), else None."""
        ...

    def put_back(self, product_id: UUID, quantity: int, now: datetime) -> Product | None:
        """Add ``quantity`` to the available stock, deleted or not: the product after, None if unknown."""
        ...


class ReservationRepository(Protocol):
    def get(self, order_id: UUID) -> Reservation | None: ...
    def try_open(self, order_id: UUID, now: datetime) -> bool:
        """Claim ``order_id`` (an ACTIVE reservation with no lines yet); False if it is already taken."""
        ...

    def add_lines(self, order_id: UUID, lines: Sequence[ReservedLine]) -> None: ...
    def open_and_take(
        self, order_id: UUID, requests: Sequence[StockRequest], now: datetime
    ) -> dict[UUID, Product] | None:
        """Claim ``order_id`` (``try_open``) and take each request's quantity from its product
        (``try_take``, in product-id order), recording the lines once all are taken: the products taken,
        as their decrements left them, by id (a request missing from it was not taken: the caller rolls
        back); None if the order id was taken already, and nothing done."""
        ...

    def try_release(self, order_id: UUID, now: datetime) -> bool:
        """Mark an ACTIVE reservation RELEASED; False if it is not ACTIVE (released, or never made)."""
        ...

    def held_quantity(self, product_id: UUID) -> int:
        """Units of the product held by active reservations (stock that a release will bring back)."""
        ...

    def add_released_marker(self, order_id: UUID, now: datetime) -> bool:
        """Record that ``order_id`` was released before any reservation, so a late one cannot land."""
        ...


class ProductUnitOfWork(UnitOfWork, Protocol):
    products: ProductRepository
    reservations: ReservationRepository
    events: EventOutbox  # integration events, written at commit from what the written products raised

    def __enter__(self) -> ProductUnitOfWork: ...
    def __exit__(self, *exc_info: object) -> None: ...
    def commit(self) -> None: ...
