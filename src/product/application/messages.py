"""Commands and queries of the Product service, with their validation rules."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from uuid import UUID

from common import validation as check
from common.mediator import Command, Query
from product.application.results import ProductPage, ReleaseResult
from product.domain.changes import UPDATABLE_FIELDS, ProductChanges, effective_mask, is_updatable
from product.domain.model import Product, Reservation, StockRequest

MAX_CATEGORY_LENGTH = 50
_CATEGORY = re.compile(f"[a-z0-9-]{{0,{MAX_CATEGORY_LENGTH}}}")


def check_category(v: check.Violations, field: str, value: str) -> None:
    """Empty (no category) or up to 50 of a-z, 0-9 and '-': matched exactly, never folded or trimmed."""
    if _CATEGORY.fullmatch(value) is None:
        v.add(
            field,
            f"must be at most {MAX_CATEGORY_LENGTH} characters of a-z, 0-9 and '-', got {check.shown(value)}",
        )


@dataclass(frozen=True)
class CreateProduct(Command[Product]):
    name: str
    description: str
    price: str
    stock_quantity: int
    low_stock_threshold: int
    category: str = ""

    def validate(self) -> None:
        v = check.Violations()
        check.check_text(v, "name", self.name, max_length=check.MAX_NAME_LENGTH, required=True)
        check.check_text(
            v, "description", self.description, max_length=check.MAX_DESCRIPTION_LENGTH, required=False
        )
        check.check_price(v, "price", self.price)
        check.check_non_negative(v, "stock_quantity", self.stock_quantity)
        check.check_non_negative(v, "low_stock_threshold", self.low_stock_threshold)
        check_category(v, "category", self.category)
        v.raise_if_any()


@dataclass(frozen=True)
class UpdateProduct(Command[Product]):
    """AIP-134: the request's product (its updatable fields as sent) and its update mask's paths."""

    product_id: str
    update_mask: Sequence[str] = ()
    name: str = ""
    description: str = ""
    price: str = ""
    low_stock_threshold: int = 0
    category: str = ""
    etag: str = ""

    def mask(self) -> tuple[str, ...]:
        """The effective mask. With none, the fields "set" are those not at proto3's default, so a
        field is cleared (or a threshold set to 0) only by naming it in the mask."""
        given = {
            "name": self.name != "",
            "description": self.description != "",
            "price": self.price != "",
            "low_stock_threshold": self.low_stock_threshold != 0,
            "category": self.category != "",
        }
        return effective_mask(self.update_mask, (f for f, is_set in given.items() if is_set))

    def validate(self) -> None:
        v = check.Violations()
        check.check_uuid(v, "product.product_id", self.product_id)
        for i, path in enumerate(self.update_mask):
            if not is_updatable(path):
                updatable = ", ".join(UPDATABLE_FIELDS)
                v.add(
                    f"update_mask.paths[{i}]",
                    f"{check.shown(path)} is not an updatable field (updatable: {updatable}, or '*' for all)",
                )
        mask = self.mask()
        if not mask and not v.items:
            v.add("update_mask", "names no field, and the product sets none: nothing to update")
        # The rules of CreateProduct, for the fields the update changes.
        if "name" in mask:
            check.check_text(v, "product.name", self.name, max_length=check.MAX_NAME_LENGTH, required=True)
        if "description" in mask:
            check.check_text(
                v,
                "product.description",
                self.description,
                max_length=check.MAX_DESCRIPTION_LENGTH,
                required=False,
            )
        if "price" in mask:
            check.check_price(v, "product.price", self.price)
        if "low_stock_threshold" in mask:
            check.check_non_negative(v, "product.low_stock_threshold", self.low_stock_threshold)
        if "category" in mask:
            check_category(v, "product.category", self.category)
        v.raise_if_any()

    def changes(self) -> ProductChanges:
        mask = self.mask()
        return ProductChanges(
            mask,
            name=self.name.strip() if "name" in mask else None,
            description=self.description.strip() if "description" in mask else None,
            price=check.parse_price(self.price) if "price" in mask else None,
            low_stock_threshold=self.low_stock_threshold if "low_stock_threshold" in mask else None,
            category=self.category if "category" in mask else None,
        )


@dataclass(frozen=True)
class DeleteProduct(Command[Product]):
    product_id: str
    etag: str = ""

    def validate(self) -> None:
        v = check.Violations()
        check.check_uuid(v, "product_id", self.product_id)
        v.raise_if_any()


@dataclass(frozen=True)
class UndeleteProduct(Command[Product]):
    product_id: str
    etag: str = ""

    def validate(self) -> None:
        v = check.Violations()
        check.check_uuid(v, "product_id", self.product_id)
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
    category: str = ""  # empty: every category
    show_deleted: bool = False

    def validate(self) -> None:
        v = check.Violations()
        check.check_non_negative(v, "page_size", self.page_size)
        check_category(v, "category", self.category)
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
