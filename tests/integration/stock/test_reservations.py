"""ReserveStock / ReleaseStock against a real server: all-or-nothing, idempotent, released once."""

from __future__ import annotations

import grpc
import pytest

from common.generated.eshop.product.v1 import product_pb2 as pb
from common.generated.eshop.product.v1 import product_pb2_grpc as pb_grpc
from tests.support.helpers import create_product, new_id, reserve_request, rich_details

Stub = pb_grpc.ProductServiceStub


def stocks(stub: Stub, *product_ids: str) -> list[int]:
    found = stub.BatchGetProducts(pb.BatchGetProductsRequest(product_ids=list(product_ids)))
    return [p.stock_quantity for p in found.products]


def release(stub: Stub, order_id: str) -> bool:
    response = stub.ReleaseStock(pb.ReleaseStockRequest(order_id=order_id))
    assert response.order_id == order_id
    return bool(response.released)


def failed(stub: Stub, request: pb.ReserveStockRequest) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        stub.ReserveStock(request)
    return raised.value


def test_reserve_takes_stock_and_answers_with_names_and_prices(product_stub: Stub) -> None:
    lamp = create_product(product_stub, name="Lamp", price="19.99", stock=10)
    desk = create_product(product_stub, name="Desk", price="120", stock=2)
    order_id = new_id()

    response = product_stub.ReserveStock(
        reserve_request(order_id, [(lamp.product_id, 3), (desk.product_id, 2)])
    )

    assert response.order_id == order_id
    assert [(i.product_id, i.name, i.unit_price, i.quantity) for i in response.items] == [
        (lamp.product_id, "Lamp", "19.99", 3),
        (desk.product_id, "Desk", "120.00", 2),
    ]
    assert response.reserve_time.seconds > 0
    assert stocks(product_stub, lamp.product_id, desk.product_id) == [7, 0]


def test_a_repeat_with_the_same_items_replays_and_takes_nothing(product_stub: Stub) -> None:
    a, b = (
        create_product(product_stub, stock=10).product_id,
        create_product(product_stub, stock=10).product_id,
    )
    order_id = new_id()
    first = product_stub.ReserveStock(reserve_request(order_id, [(a, 2), (b, 3)]))

    again = product_stub.ReserveStock(reserve_request(order_id.upper(), [(b, 3), (a, 2)]))

    assert again == first
    assert stocks(product_stub, a, b) == [8, 7]


def test_a_repeat_with_different_items_is_already_exists(product_stub: Stub) -> None:
    a = create_product(product_stub, stock=10).product_id
    order_id = new_id()
    product_stub.ReserveStock(reserve_request(order_id, [(a, 2)]))

    error = failed(product_stub, reserve_request(order_id, [(a, 5)]))

    assert error.code() is grpc.StatusCode.ALREADY_EXISTS
    assert stocks(product_stub, a) == [8]


def test_short_lines_fail_with_one_stock_violation_each_and_nothing_is_taken(product_stub: Stub) -> None:
    plenty = create_product(product_stub, stock=50).product_id
    few = create_product(product_stub, stock=3).product_id
    none = create_product(product_stub, stock=0).product_id
    order_id = new_id()

    error = failed(product_stub, reserve_request(order_id, [(plenty, 5), (few, 4), (none, 1)]))

    details = rich_details(error)
    assert details.code is grpc.StatusCode.FAILED_PRECONDITION
    assert sorted((v.type, v.subject, v.description) for v in details.precondition) == sorted(
        [("STOCK", few, "requested 4, available 3"), ("STOCK", none, "requested 1, available 0")]
    )
    assert stocks(product_stub, plenty, few, none) == [50, 3, 0]
    # Nothing was recorded under the order id either: the same id may try again once restocked.
    product_stub.RestockProduct(pb.RestockProductRequest(product_id=few, quantity=1))
    product_stub.RestockProduct(pb.RestockProductRequest(product_id=none, quantity=1))
    product_stub.ReserveStock(reserve_request(order_id, [(plenty, 5), (few, 4), (none, 1)]))
    assert stocks(product_stub, plenty, few, none) == [45, 0, 0]


def test_unknown_products_are_not_found_with_a_resource_info_each(product_stub: Stub) -> None:
    known = create_product(product_stub, stock=5).product_id
    x, y = new_id(), new_id()

    error = failed(product_stub, reserve_request(new_id(), [(x, 1), (known, 1), (y, 2)]))

    details = rich_details(error)
    assert details.code is grpc.StatusCode.NOT_FOUND
    assert [(r.resource_type, r.resource_name) for r in details.resources] == [
        ("eshop.product.v1.Product", x),
        ("eshop.product.v1.Product", y),
    ]
    assert stocks(product_stub, known) == [5]


P = "7f0cc2f0-2fd5-413e-846d-04baa8b00638"


@pytest.mark.parametrize(
    ("order_id", "lines", "fields"),
    [
        ("not-a-uuid", [(P, 1)], ["order_id"]),
        ("", [(P, 1)], ["order_id"]),
        (new_id(), [], ["items"]),
        (new_id(), [(new_id(), 1) for _ in range(101)], ["items"]),
        (new_id(), [(P, 1), (P.upper(), 2)], ["items[1].product_id"]),
        (new_id(), [(P, 0)], ["items[0].quantity"]),
        (new_id(), [(P, 10_001)], ["items[0].quantity"]),
        (new_id(), [("xyz", 1)], ["items[0].product_id"]),
    ],
    ids=[
        "bad-order-id",
        "no-order-id",
        "no-items",
        "101-lines",
        "duplicate",
        "zero",
        "too-many",
        "bad-product",
    ],
)
def test_malformed_reservations_are_invalid_argument(
    product_stub: Stub, order_id: str, lines: list[tuple[str, int]], fields: list[str]
) -> None:
    details = rich_details(failed(product_stub, reserve_request(order_id, lines)))
    assert (details.code, details.bad_fields) == (grpc.StatusCode.INVALID_ARGUMENT, fields)


def test_release_puts_stock_back_exactly_once(product_stub: Stub) -> None:
    a, b = create_product(product_stub, stock=10).product_id, create_product(product_stub, stock=4).product_id
    order_id = new_id()
    product_stub.ReserveStock(reserve_request(order_id, [(a, 6), (b, 4)]))

    assert [release(product_stub, order_id), release(product_stub, order_id)] == [True, False]
    assert stocks(product_stub, a, b) == [10, 4]


def test_releasing_an_unknown_order_is_ok_with_released_false(product_stub: Stub) -> None:
    assert release(product_stub, new_id()) is False


def test_a_reserve_after_releasing_an_unknown_order_is_refused(product_stub: Stub) -> None:
    # The tombstone: a compensation that overtook a slow reserve must stop it from taking stock later.
    a = create_product(product_stub, stock=5).product_id
    order_id = new_id()
    assert release(product_stub, order_id) is False

    error = failed(product_stub, reserve_request(order_id, [(a, 1)]))

    assert error.code() is grpc.StatusCode.ALREADY_EXISTS
    assert stocks(product_stub, a) == [5]


def test_the_same_reservation_after_its_release_takes_no_stock_again(product_stub: Stub) -> None:
    a = create_product(product_stub, stock=5).product_id
    order_id = new_id()
    product_stub.ReserveStock(reserve_request(order_id, [(a, 5)]))
    release(product_stub, order_id)

    error = failed(product_stub, reserve_request(order_id, [(a, 5)]))

    details = rich_details(error)
    assert details.code is grpc.StatusCode.FAILED_PRECONDITION
    assert [(v.type, v.subject) for v in details.precondition] == [("RESERVATION_RELEASED", order_id)]
    assert stocks(product_stub, a) == [5]


def test_release_with_a_malformed_order_id_is_invalid_argument(product_stub: Stub) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        product_stub.ReleaseStock(pb.ReleaseStockRequest(order_id="123"))
    details = rich_details(raised.value)
    assert (details.code, details.bad_fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["order_id"])


def test_get_reservation_reports_the_state_and_items(product_stub: Stub) -> None:
    a = create_product(product_stub, name="Lamp", price="3.5", stock=5).product_id
    order_id = new_id()
    reserved = product_stub.ReserveStock(reserve_request(order_id, [(a, 2)]))

    active = product_stub.GetReservation(pb.GetReservationRequest(order_id=order_id))
    release(product_stub, order_id)
    released = product_stub.GetReservation(pb.GetReservationRequest(order_id=order_id))

    assert (active.order_id, active.state) == (order_id, pb.Reservation.STATE_ACTIVE)
    assert list(active.items) == list(reserved.items)
    assert active.reserve_time == reserved.reserve_time
    assert released.state == pb.Reservation.STATE_RELEASED


def test_get_reservation_of_an_unknown_order_is_not_found(product_stub: Stub) -> None:
    order_id = new_id()
    with pytest.raises(grpc.RpcError) as raised:
        product_stub.GetReservation(pb.GetReservationRequest(order_id=order_id))
    details = rich_details(raised.value)
    assert details.code is grpc.StatusCode.NOT_FOUND
    assert [(r.resource_type, r.resource_name) for r in details.resources] == [
        ("eshop.product.v1.Reservation", order_id)
    ]
