"""Commands and queries of the Product service, with their validation rules."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from uuid import UUID

from common import validation as check
from common.mediator import Command, Query
from product.application.results import ProductPage, ReleaseResult
from product.domain.model import Product, Reservation, StockRequest


@dataclass(frozen=True)
class CreateProduct(Command[Product]):
    name: str
    description: str
    price: str
    stock_quantity: int
    low_stock_threshold: int

    def validate(self) -> None:
        v = check.Violations()
        check.check_text(v, "name", self.name, max_length=check.MAX_NAME_LENGTH, required=True)
        check.check_text(
            v, "description", self.description, max_length=check.MAX_DESCRIPTION_LENGTH, required=False
        )
        check.check_price(v, "price", self.price)
        check.check_non_negative(v, "stock_quantity", self.stock_quantity)
        check.check_non_negative(v, "low_stock_threshold", self.low_stock_threshold)
        v.raise_if_any()


@dataclass(frozen=True)
class RestockProduct(Command[Product]):
    product_id: str
    quantity: int

    def validate(self) -> None:
        v = check.Violations()
        check.check_uuid(v, "product_id", self.product_id)
        # Unlike an order line, a restock has no cap of its own: the stock column's range is the limit.
        if self.quantity < 1:
            v.add("quantity", f"must be at least 1, got {self.quantity}")
        v.raise_if_any()


@dataclass(frozen=True)
class StockLine:
    product_id: str
    quantity: int


@dataclass(frozen=True)
class ReserveStock(Command[Reservation]):
    order_id: str
    items: Sequence[StockLine] = field(default_factory=tuple)

    def validate(self) -> None:
        v = check.Violations()
        check.check_uuid(v, "order_id", self.order_id)
        check.check_lines(v, "items", self.items)
        v.raise_if_any()

    def requests(self) -> list[StockRequest]:
        return [StockRequest(UUID(i.product_id), i.quantity) for i in self.items]


@dataclass(frozen=True)
class ReleaseStock(Command[ReleaseResult]):
    order_id: str

    def validate(self) -> None:
        v = check.Violations()
        check.check_uuid(v, "order_id", self.order_id)
        v.raise_if_any()


@dataclass(frozen=True)
class GetProduct(Query[Product]):
    product_id: str

    def validate(self) -> None:
        v = check.Violations()
        check.check_uuid(v, "product_id", self.product_id)
        v.raise_if_any()


@dataclass(frozen=True)
class ListProducts(Query[ProductPage]):
    page_size: int = 0
    page_token: str = ""

    def validate(self) -> None:
        v = check.Violations()
        check.check_non_negative(v, "page_size", self.page_size)
        v.raise_if_any()


@dataclass(frozen=True)
class BatchGetProducts(Query[list[Product]]):
    product_ids: Sequence[str] = field(default_factory=tuple)

    def validate(self) -> None:
        v = check.Violations()
        if len(self.product_ids) > check.MAX_BATCH_GET_IDS:
            v.add(
                "product_ids", f"must have at most {check.MAX_BATCH_GET_IDS} ids, got {len(self.product_ids)}"
            )
        else:
            for i, product_id in enumerate(self.product_ids):
                check.check_uuid(v, f"product_ids[{i}]", product_id)
        v.raise_if_any()


@dataclass(frozen=True)
class GetReservation(Query[Reservation]):
    order_id: str

    def validate(self) -> None:
        v = check.Violations()
        check.check_uuid(v, "order_id", self.order_id)
        v.raise_if_any()
