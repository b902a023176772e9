"""Domain failures, each an AppError so the edge knows its status code and details."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING
from uuid import UUID

from common.errors import (
    Aborted,
    AlreadyExists,
    FailedPrecondition,
    NotFound,
    PreconditionType,
    PreconditionViolation,
    ResourceRef,
    ResourceType,
)

if TYPE_CHECKING:  # the model raises these errors: a runtime import would be circular
    from product.domain.model import Shortage


class ProductNotFound(NotFound):
    def __init__(self, product_ids: Sequence[UUID]) -> None:
        names = ", ".join(str(p) for p in product_ids)
        noun = "product" if len(product_ids) == 1 else "products"
        super().__init__(
            f"{noun} not found: {names}",
            [ResourceRef(ResourceType.PRODUCT, str(p), "product not found") for p in product_ids],
        )
        self.product_ids = list(product_ids)


class ProductIsDeleted(FailedPrecondition):
    """A change only a live product takes (update, restock, delete) asked of a deleted one."""

    def __init__(self, product_id: UUID, action: str) -> None:
        super().__init__(
            f"product {product_id} is deleted and cannot be {action}; undelete it first",
            [PreconditionViolation(PreconditionType.PRODUCT_DELETED, str(product_id), "product is deleted")],
        )


class ProductNotDeleted(FailedPrecondition):
    def __init__(self, product_id: UUID) -> None:
        super().__init__(
            f"product {product_id} is not deleted; only a deleted product can be undeleted",
            [
                PreconditionViolation(
                    PreconditionType.PRODUCT_NOT_DELETED, str(product_id), "product is not deleted"
                )
            ],
        )


class StaleEtag(Aborted):
    """AIP-154: the product changed since the caller read the etag it sent."""

    def __init__(self, product_id: UUID) -> None:
        super().__init__(
            f"product {product_id} has changed since the etag given was read; "
            "get it again and retry with its current etag"
        )
        self.product_id = product_id


class InsufficientStock(FailedPrecondition):
    def __init__(self, shortages: Sequence[Shortage]) -> None:
        violations = [
            PreconditionViolation(
                PreconditionType.STOCK, str(s.product_id), f"requested {s.requested}, available {s.available}"
            )
            for s in shortages
        ]
        summary = "; ".join(f"{v.subject}: {v.description}" for v in violations)
        super().__init__(f"insufficient stock: {summary}", violations)
        self.shortages = list(shortages)


class ReservationConflict(AlreadyExists):
    def __init__(self, order_id: UUID) -> None:
        super().__init__(
            f"order {order_id} already has a stock reservation with different items; "
            "a reservation is keyed by order id and cannot be changed"
        )


class ReservationReleased(FailedPrecondition):
    """A repeat of a reservation that has since been released: its stock is no longer held."""

    def __init__(self, order_id: UUID) -> None:
        super().__init__(
            f"the stock reservation of order {order_id} was released; reserve under a new order id",
            [
                PreconditionViolation(
                    PreconditionType.RESERVATION_RELEASED, str(order_id), "reservation was released"
                )
            ],
        )


class ReservationNotFound(NotFound):
    def __init__(self, order_id: UUID) -> None:
        super().__init__(
            f"no stock reservation for order {order_id}",
            [ResourceRef(ResourceType.RESERVATION, str(order_id), "no reservation for this order id")],
        )
