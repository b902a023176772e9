"""Domain failures of the Order service."""

from __future__ import annotations

from uuid import UUID

from common.errors import (
    FailedPrecondition,
    NotFound,
    PreconditionType,
    PreconditionViolation,
    ResourceRef,
    ResourceType,
)


class OrderNotFound(NotFound):
    def __init__(self, order_id: UUID) -> None:
        super().__init__(
            f"order not found: {order_id}",
            [ResourceRef(ResourceType.ORDER, str(order_id), "order not found")],
        )


class OrderNotCancellable(FailedPrecondition):
    def __init__(self, order_id: UUID, status: str) -> None:
        super().__init__(
            f"order {order_id} is {status} and cannot be cancelled; only PENDING or CONFIRMED orders can",
            [PreconditionViolation(PreconditionType.ORDER_STATUS, str(order_id), f"order is {status}")],
        )
