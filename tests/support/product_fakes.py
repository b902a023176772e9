"""In-memory fakes of the Product ports (application/storage.py) with real transaction semantics.

``FakeProductUnitOfWork`` keeps the *committed* state; entering it opens a working copy that the
repositories change; ``commit`` publishes the copy, leaving the block without a commit throws it away.
So a test can see exactly what a handler would have left in the database.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID, uuid4

from common.transactions import AfterCommit
from product.application.storage import ProductRepository, ReservationRepository
from product.domain.model import (
    Product,
    Reservation,
    ReservationStatus,
    ReservedLine,
    StockRequest,
    reserved_lines,
)
from tests.support.clock import T0

T = TypeVar("T")


def make_product(
    *,
    stock: int = 10,
    price: str = "9.99",
    name: str = "Widget",
    created: datetime = T0,
    category: str = "",
    deleted: datetime | None = None,
) -> Product:
    return Product(
        uuid4(), name, "", Decimal(price), stock, 2, created, created, category=category, delete_time=deleted
    )


class FakeProductRepository:
    """Hands out copies, as a database would: a product changed in memory is not stored until saved."""

    def __init__(self, rows: dict[UUID, Product]) -> None:
        self.rows = rows

    def add(self, product: Product) -> None:
        self.rows[product.product_id] = replace(product)

    def get(self, product_id: UUID) -> Product | None:
        product = self.rows.get(product_id)
        return None if product is None else replace(product)

    def get_for_update(self, product_id: UUID) -> Product | None:
        return self.get(product_id)  # one transaction at a time: nothing to lock against

    def save(self, product: Product) -> Product | None:
        stored = self.rows.get(product.product_id)
        if stored is None or stored.version != product.version:
            return None
        # The catalogue fields and the deletion; never the stock, which only the stock moves change.
        saved = replace(product, stock_quantity=stored.stock_quantity, version=stored.version + 1)
        self.rows[product.product_id] = saved
        return replace(saved)

    def count_low_stock(self) -> int:
        return sum(
            1 for p in self.rows.values() if p.stock_quantity <= p.low_stock_threshold and not p.deleted
        )

    def get_many(self, product_ids: Sequence[UUID]) -> dict[UUID, Product]:
        return {p: replace(self.rows[p]) for p in product_ids if p in self.rows}

    def list_after(
        self,
        after: tuple[datetime, UUID] | None,
        limit: int,
        *,
        category: str = "",
        show_deleted: bool = False,
    ) -> list[Product]:
        ordered = sorted(self.rows.values(), key=lambda p: (p.create_time, p.product_id))
        ordered = [
            p
            for p in ordered
            if (not category or p.category == category)
            and (show_deleted or not p.deleted)
            and (after is None or (p.create_time, p.product_id) > after)
        ]
        return [replace(p) for p in ordered[:limit]]

    def try_take(self, product_id: UUID, quantity: int, now: datetime) -> Product | None:
        product = self.rows.get(product_id)
        if product is None or product.deleted or product.stock_quantity < quantity:
            return None
        return self._move(product, -quantity, now)

    def put_back(self, product_id: UUID, quantity: int, now: datetime) -> Product | None:
        product = self.rows.get(product_id)
        return None if product is None else self._move(product, quantity, now)

    def _move(self, product: Product, units: int, now: datetime) -> Product:
        moved = replace(
            product,
            stock_quantity=product.stock_quantity + units,
            update_time=now,
            version=product.version + 1,
        )
        self.rows[product.product_id] = moved
        return replace(moved)


class FakeReservationRepository:
    def __init__(self, rows: dict[UUID, Reservation], products: ProductRepository) -> None:
        self.rows = rows
        self._products = products

    def open_and_take(
        self, order_id: UUID, requests: Sequence[StockRequest], now: datetime
    ) -> dict[UUID, Product] | None:
        """As SQLite's: the claim, each take in product-id order, the lines once all are taken."""
        if not self.try_open(order_id, now):
            return None
        taken = {}
        for r in sorted(requests, key=lambda r: r.product_id):
            product = self._products.try_take(r.product_id, r.quantity, now)
            if product is not None:
                taken[r.product_id] = product
        if len(taken) == len(requests):
            self.add_lines(order_id, reserved_lines(requests, taken))
        return taken

    def get(self, order_id: UUID) -> Reservation | None:
        return self.rows.get(order_id)

    def try_open(self, order_id: UUID, now: datetime) -> bool:
        if order_id in self.rows:
            return False
        self.rows[order_id] = Reservation(order_id, ReservationStatus.ACTIVE, (), now)
        return True

    def add_lines(self, order_id: UUID, lines: Sequence[ReservedLine]) -> None:
        self.rows[order_id] = replace(self.rows[order_id], lines=tuple(lines))

    def try_release(self, order_id: UUID, now: datetime) -> bool:
        reservation = self.rows.get(order_id)
        if reservation is None or reservation.status is not ReservationStatus.ACTIVE:
            return False
        self.rows[order_id] = replace(reservation, status=ReservationStatus.RELEASED)
        return True

    def held_quantity(self, product_id: UUID) -> int:
        return sum(
            line.quantity
            for reservation in self.rows.values()
            if reservation.status is ReservationStatus.ACTIVE
            for line in reservation.lines
            if line.product_id == product_id
        )

    def add_released_marker(self, order_id: UUID, now: datetime) -> bool:
        if order_id in self.rows:
            return False
        self.rows[order_id] = Reservation(order_id, ReservationStatus.RELEASED, (), now)
        return True


class FakeProductUnitOfWork:
    products: ProductRepository
    reservations: ReservationRepository

    def __init__(self, products: type[FakeProductRepository] = FakeProductRepository) -> None:
        self._products_class = products
        self.committed_products: dict[UUID, Product] = {}
        self.committed_reservations: dict[UUID, Reservation] = {}
        self.entered = 0
        self.commits = 0
        self.rollbacks = 0
        self.discarded = 0  # rollbacks that threw uncommitted writes away
        self._after_commit = AfterCommit()
        self._open()

    def seed(self, *products: Product) -> None:
        """Put products straight into the committed state (test set-up, not a handler's write)."""
        for product in products:
            self.committed_products[product.product_id] = product
        self._open()

    def stock(self, product_id: UUID) -> int:
        """Committed stock: what another transaction would read."""
        return self.committed_products[product_id].stock_quantity

    def _open(self) -> None:
        self._working_products = dict(self.committed_products)
        self._working_reservations = dict(self.committed_reservations)
        self.products = self._products_class(self._working_products)
        self.reservations = FakeReservationRepository(self._working_reservations, self.products)

    @property
    def in_transaction(self) -> bool:
        """Whether there are uncommitted writes."""
        return (self._working_products, self._working_reservations) != (
            self.committed_products,
            self.committed_reservations,
        )

    def __enter__(self) -> FakeProductUnitOfWork:
        self.entered += 1
        self._open()
        return self

    async def run(self, body: Callable[..., T], *args: Any) -> T:
        """As the SQL adapter: ``body`` inside this unit of work's block (here inline, like SQLite)."""
        with self:
            return body(*args)

    def __exit__(self, *exc_info: object) -> None:
        self.rollback()

    def commit(self) -> None:
        self.committed_products = dict(self._working_products)
        self.committed_reservations = dict(self._working_reservations)
        self.commits += 1
        self._open()
        self._after_commit.run()

    def after_commit(self, action: Callable[[], None]) -> None:
        self._after_commit.add(action)

    def rollback(self) -> None:
        self.rollbacks += 1
        self._after_commit.discard()
        working = (self._working_products, self._working_reservations)
        if working != (self.committed_products, self.committed_reservations):
            self.discarded += 1
        self._open()
