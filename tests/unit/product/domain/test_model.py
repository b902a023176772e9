"""Domain rules: what counts as the same reservation, shortages, and the errors' messages and details."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from common.errors import ErrorCode, PreconditionType, ResourceType
from product.domain.errors import (
    InsufficientStock,
    ProductNotFound,
    ReservationConflict,
    ReservationReleased,
)
from product.domain.model import (
    Reservation,
    ReservationStatus,
    ReservedLine,
    Shortage,
    StockRequest,
)
from tests.support.clock import T0

A, B, C = (UUID(int=i) for i in (1, 2, 3))


def reservation(*lines: tuple[UUID, int]) -> Reservation:
    reserved = tuple(ReservedLine(p, "n", Decimal("1.00"), q) for p, q in lines)
    return Reservation(uuid4(), ReservationStatus.ACTIVE, reserved, T0)


def test_the_same_items_in_another_order_are_the_same_request() -> None:
    held = reservation((A, 1), (B, 2))
    assert held.requested_the_same([StockRequest(B, 2), StockRequest(A, 1)])


@pytest.mark.parametrize(
    "requested",
    [
        [StockRequest(A, 1)],  # a line fewer
        [StockRequest(A, 1), StockRequest(B, 2), StockRequest(C, 1)],  # a line more
        [StockRequest(A, 1), StockRequest(B, 3)],  # another quantity
        [StockRequest(A, 1), StockRequest(C, 2)],  # another product
        [StockRequest(A, 1), StockRequest(A, 1)],  # same length, a line repeated
    ],
)
def test_anything_else_is_a_different_request(requested: list[StockRequest]) -> None:
    assert not reservation((A, 1), (B, 2)).requested_the_same(requested)


def test_a_released_marker_matches_no_request() -> None:
    marker = Reservation(uuid4(), ReservationStatus.RELEASED, (), T0)
    assert not marker.requested_the_same([StockRequest(A, 1)])


def test_product_not_found_names_each_product_with_a_resource() -> None:
    error = ProductNotFound([A, B])

    assert error.code is ErrorCode.NOT_FOUND
    assert error.message == f"products not found: {A}, {B}"
    assert [(r.resource_type, r.resource_name) for r in error.resources] == [
        (ResourceType.PRODUCT, str(A)),
        (ResourceType.PRODUCT, str(B)),
    ]
    assert ProductNotFound([A]).message == f"product not found: {A}"


def test_insufficient_stock_has_one_stock_violation_per_short_line() -> None:
    error = InsufficientStock([Shortage(A, 5, 4), Shortage(B, 1, 0)])

    assert error.code is ErrorCode.FAILED_PRECONDITION
    assert [(v.type, v.subject, v.description) for v in error.violations] == [
        (PreconditionType.STOCK, str(A), "requested 5, available 4"),
        (PreconditionType.STOCK, str(B), "requested 1, available 0"),
    ]
    assert (
        error.message == f"insufficient stock: {A}: requested 5, available 4; {B}: requested 1, available 0"
    )


def test_reservation_conflict_is_already_exists_and_names_the_order() -> None:
    error = ReservationConflict(A)
    assert error.code is ErrorCode.ALREADY_EXISTS
    assert str(A) in error.message


def test_reservation_released_is_a_failed_precondition_on_the_order() -> None:
    error = ReservationReleased(A)
    assert error.code is ErrorCode.FAILED_PRECONDITION
    assert [(v.type, v.subject) for v in error.violations] == [
        (PreconditionType.RESERVATION_RELEASED, str(A))
    ]
