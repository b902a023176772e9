"""Catalogue use cases: create, read, list, batch-get, restock."""

from __future__ import annotations

from uuid import UUID, uuid4

from common import pagination
from common.clock import Clock
from common.errors import FailedPrecondition, PreconditionType, PreconditionViolation
from common.transactions import OneTransaction
from common.validation import MAX_STOCK, parse_price
from product.application.messages import (
    BatchGetProducts,
    CreateProduct,
    GetProduct,
    ListProducts,
    RestockProduct,
)
from product.application.results import ProductPage
from product.application.storage import ProductUnitOfWork
from product.domain.errors import ProductNotFound
from product.domain.model import Product


class CreateProductHandler(OneTransaction[ProductUnitOfWork]):
    def __init__(self, uow: ProductUnitOfWork, clock: Clock) -> None:
        super().__init__(uow)
        self.clock = clock

    def handle(self, command: CreateProduct) -> Product:
        price = parse_price(command.price)
        assert price is not None, "validated by CreateProduct.validate"
        now = self.clock()
        product = Product.create(
            product_id=uuid4(),
            name=command.name.strip(),
            description=command.description.strip(),
            price=price,
            stock_quantity=command.stock_quantity,
            low_stock_threshold=command.low_stock_threshold,
            now=now,
            category=command.category,
        )
        self.uow.products.add(product)
        return product


class GetProductHandler(OneTransaction[ProductUnitOfWork]):
    def handle(self, query: GetProduct) -> Product:
        product_id = UUID(query.product_id)
        product = self.uow.products.get(product_id)
        if product is None:
            raise ProductNotFound([product_id])
        return product


class ListProductsHandler(OneTransaction[ProductUnitOfWork]):
    """Oldest first, keyset-paged on (create_time, product_id): pages stay stable while products are added.
    The position a token holds means the same under any filter, so the filter is not in the token."""

    def handle(self, query: ListProducts) -> ProductPage:
        size = pagination.effective_page_size(query.page_size)
        after = pagination.decode_keyset(query.page_token)
        fetched = self.uow.products.list_after(
            after, size + 1, category=query.category, show_deleted=query.show_deleted
        )
        return ProductPage.of(fetched, size)


class BatchGetProductsHandler(OneTransaction[ProductUnitOfWork]):
    """AIP-231: all or nothing; products in request order."""

    def handle(self, query: BatchGetProducts) -> list[Product]:
        ids = [UUID(p) for p in query.product_ids]
        found = self.uow.products.get_many(ids)
        missing = list(dict.fromkeys(p for p in ids if p not in found))
        if missing:
            raise ProductNotFound(missing)
        return [found[p] for p in ids]


class RestockProductHandler(OneTransaction[ProductUnitOfWork]):
    def __init__(self, uow: ProductUnitOfWork, clock: Clock) -> None:
        super().__init__(uow)
        self.clock = clock

    def handle(self, command: RestockProduct) -> Product:
        product_id = UUID(command.product_id)
        # Locked until the commit: no reservation moves units, and no delete lands, while we add up.
        product = self.uow.products.get_for_update(product_id)
        if product is None:
            raise ProductNotFound([product_id])
        now = self.clock()
        product.restock(command.quantity, now)
        # Units held by reservations come back on release, so they count against the limit too.
        if product.stock_quantity + self.uow.reservations.held_quantity(product_id) > MAX_STOCK:
            raise _would_overflow(product_id, command.quantity)
        restocked = self.uow.products.put_back(product_id, command.quantity, now)
        assert restocked is not None, "the product row is locked by this transaction"
        return restocked


def _would_overflow(product_id: UUID, quantity: int) -> FailedPrecondition:
    return FailedPrecondition(
        f"restocking {quantity} would exceed the maximum stock of {MAX_STOCK} "
        "(available plus reserved units)",
        [PreconditionViolation(PreconditionType.STOCK_LIMIT, str(product_id), "stock would overflow")],
    )
