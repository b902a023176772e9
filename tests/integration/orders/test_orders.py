"""CreateOrder, CancelOrder and GetOrder against a real Order service and a real Product service."""

from __future__ import annotations

import grpc
from google.protobuf.field_mask_pb2 import FieldMask

from common.generated.eshop.order.v1 import order_pb2 as opb
from common.generated.eshop.product.v1 import product_pb2 as ppb
from tests.support.helpers import (
    create_product,
    get_order,
    new_id,
    order_request,
    rich_details,
    rpc_failure,
    stock,
)
from tests.support.servers import OrderStub, ProductStub


def test_create_confirms_with_names_prices_and_total_and_takes_stock(
    order_stub: OrderStub, product_stub: ProductStub
) -> None:
    lamp = create_product(product_stub, name="Lamp", price="19.99", stock=10)
    desk = create_product(product_stub, name="Desk", price="120", stock=2)
    customer = new_id()

    order = order_stub.CreateOrder(
        order_request(customer, (lamp.product_id, 3), (desk.product_id, 1)), timeout=10
    )

    assert order.status == opb.ORDER_STATUS_CONFIRMED
    assert order.customer_id == customer
    assert [(i.product_id, i.product_name, i.unit_price, i.quantity) for i in order.items] == [
        (lamp.product_id, "Lamp", "19.99", 3),
        (desk.product_id, "Desk", "120.00", 1),
    ]
    assert order.total_amount == "179.97"
    assert order.failed_product_ids == []
    assert order.create_time.seconds > 0 and order.update_time.ToDatetime() >= order.create_time.ToDatetime()
    assert (stock(product_stub, lamp.product_id), stock(product_stub, desk.product_id)) == (7, 1)
    assert get_order(order_stub, order.order_id) == order


def test_insufficient_stock_is_rejected_and_takes_nothing(
    order_stub: OrderStub, product_stub: ProductStub
) -> None:
    lamp = create_product(product_stub, stock=10)
    desk = create_product(product_stub, stock=2)

    order = order_stub.CreateOrder(order_request(new_id(), (lamp.product_id, 3), (desk.product_id, 5)))

    assert order.status == opb.ORDER_STATUS_REJECTED
    assert list(order.failed_product_ids) == [desk.product_id]
    assert "insufficient stock" in order.status_reason
    assert order.total_amount == "0"
    assert (stock(product_stub, lamp.product_id), stock(product_stub, desk.product_id)) == (10, 2)
    assert get_order(order_stub, order.order_id).status == opb.ORDER_STATUS_REJECTED


def test_unknown_product_is_rejected(order_stub: OrderStub, product_stub: ProductStub) -> None:
    lamp = create_product(product_stub, stock=10)
    ghost = new_id()

    order = order_stub.CreateOrder(order_request(new_id(), (lamp.product_id, 1), (ghost, 1)))

    assert order.status == opb.ORDER_STATUS_REJECTED
    assert list(order.failed_product_ids) == [ghost]
    assert "unknown product" in order.status_reason
    assert stock(product_stub, lamp.product_id) == 10


def test_an_order_keeps_the_name_and_price_it_was_confirmed_at_and_a_later_one_gets_the_new_ones(
    order_stub: OrderStub, product_stub: ProductStub
) -> None:
    lamp = create_product(product_stub, name="Lamp", price="19.99", stock=10)
    before = order_stub.CreateOrder(order_request(new_id(), (lamp.product_id, 1)), timeout=10)

    product_stub.UpdateProduct(
        ppb.UpdateProductRequest(
            product=ppb.Product(product_id=lamp.product_id, name="Desk lamp", price="24.50"),
            update_mask=FieldMask(paths=["name", "price"]),
        ),
        timeout=10,
    )
    after = order_stub.CreateOrder(order_request(new_id(), (lamp.product_id, 1)), timeout=10)

    assert [(i.product_name, i.unit_price) for i in before.items] == [("Lamp", "19.99")]
    assert [(i.product_name, i.unit_price) for i in after.items] == [("Desk lamp", "24.50")]
    assert get_order(order_stub, before.order_id) == before
    assert (before.total_amount, after.total_amount) == ("19.99", "24.50")


def test_a_product_deleted_before_the_order_is_rejected_naming_it_and_nothing_is_reserved(
    order_stub: OrderStub, product_stub: ProductStub
) -> None:
    lamp = create_product(product_stub, stock=10)
    desk = create_product(product_stub, stock=10)
    product_stub.DeleteProduct(ppb.DeleteProductRequest(product_id=desk.product_id), timeout=10)

    order = order_stub.CreateOrder(
        order_request(new_id(), (lamp.product_id, 1), (desk.product_id, 2)), timeout=10
    )

    assert order.status == opb.ORDER_STATUS_REJECTED
    assert list(order.failed_product_ids) == [desk.product_id]
    assert "unknown product" in order.status_reason
    assert (stock(product_stub, lamp.product_id), stock(product_stub, desk.product_id)) == (10, 10)


def test_cancelling_an_order_returns_the_stock_to_a_product_deleted_since(
    order_stub: OrderStub, product_stub: ProductStub
) -> None:
    lamp = create_product(product_stub, stock=10)
    order = order_stub.CreateOrder(order_request(new_id(), (lamp.product_id, 4)), timeout=10)
    product_stub.DeleteProduct(ppb.DeleteProductRequest(product_id=lamp.product_id), timeout=10)

    cancelled = order_stub.CancelOrder(opb.CancelOrderRequest(order_id=order.order_id), timeout=10)

    assert cancelled.status == opb.ORDER_STATUS_CANCELLED
    assert stock(product_stub, lamp.product_id) == 10


def test_a_repeated_request_id_returns_the_same_order_and_takes_stock_once(
    order_stub: OrderStub, product_stub: ProductStub
) -> None:
    lamp = create_product(product_stub, stock=10)
    request = order_request(new_id(), (lamp.product_id, 4), request_id=new_id())

    first = order_stub.CreateOrder(request)
    second = order_stub.CreateOrder(request)

    assert second == first
    assert first.status == opb.ORDER_STATUS_CONFIRMED
    assert stock(product_stub, lamp.product_id) == 6
    assert len(order_stub.ListOrders(opb.ListOrdersRequest()).orders) == 1


def test_cancel_restores_stock_and_cancelling_again_changes_nothing(
    order_stub: OrderStub, product_stub: ProductStub
) -> None:
    lamp = create_product(product_stub, stock=10)
    order = order_stub.CreateOrder(order_request(new_id(), (lamp.product_id, 4)))

    cancelled = order_stub.CancelOrder(opb.CancelOrderRequest(order_id=order.order_id, reason="too slow"))

    assert cancelled.status == opb.ORDER_STATUS_CANCELLED
    assert cancelled.status_reason == "too slow"
    assert cancelled.total_amount == order.total_amount
    assert stock(product_stub, lamp.product_id) == 10  # released before CancelOrder returned

    again = order_stub.CancelOrder(opb.CancelOrderRequest(order_id=order.order_id, reason="other"))

    assert again == cancelled
    assert stock(product_stub, lamp.product_id) == 10
    assert get_order(order_stub, order.order_id) == cancelled


def test_cancelling_a_rejected_order_is_a_failed_precondition(
    order_stub: OrderStub, product_stub: ProductStub
) -> None:
    lamp = create_product(product_stub, stock=1)
    order = order_stub.CreateOrder(order_request(new_id(), (lamp.product_id, 2)))
    assert order.status == opb.ORDER_STATUS_REJECTED

    failure = rpc_failure(order_stub.CancelOrder, opb.CancelOrderRequest(order_id=order.order_id))

    assert rich_details(failure).code == grpc.StatusCode.FAILED_PRECONDITION
    assert get_order(order_stub, order.order_id).status == opb.ORDER_STATUS_REJECTED


def test_unknown_orders_are_not_found(order_stub: OrderStub) -> None:
    order_id = new_id()

    for call, request in (
        (order_stub.GetOrder, opb.GetOrderRequest(order_id=order_id)),
        (order_stub.CancelOrder, opb.CancelOrderRequest(order_id=order_id)),
    ):
        details = rich_details(rpc_failure(call, request))
        assert details.code == grpc.StatusCode.NOT_FOUND
        assert [(r.resource_type, r.resource_name) for r in details.resources] == [
            ("eshop.order.v1.Order", order_id)
        ]


def test_invalid_create_is_refused_with_bad_request_details_and_stores_nothing(
    order_stub: OrderStub, product_stub: ProductStub
) -> None:
    lamp = create_product(product_stub, stock=10)
    request = order_request("not-a-uuid", (lamp.product_id, 0), (lamp.product_id, 1), request_id="nope")

    details = rich_details(rpc_failure(order_stub.CreateOrder, request))

    assert details.code == grpc.StatusCode.INVALID_ARGUMENT
    assert details.bad_fields == ["customer_id", "items[0].quantity", "items[1].product_id", "request_id"]
    assert order_stub.ListOrders(opb.ListOrdersRequest()).orders == []
    assert stock(product_stub, lamp.product_id) == 10


def test_invalid_requests_of_every_rpc_name_their_fields(order_stub: OrderStub) -> None:
    cases = [
        (order_stub.CreateOrder, opb.CreateOrderRequest(customer_id=new_id()), ["items"]),
        (
            order_stub.CancelOrder,
            opb.CancelOrderRequest(order_id="x", reason="r" * 501),
            ["order_id", "reason"],
        ),
        (order_stub.GetOrder, opb.GetOrderRequest(order_id=""), ["order_id"]),
        (
            order_stub.ListOrders,
            opb.ListOrdersRequest(customer_id="c", page_size=-1),
            ["customer_id", "page_size"],
        ),
        (order_stub.ListOrders, opb.ListOrdersRequest(page_token="forged"), ["page_token"]),
    ]
    for call, request, fields in cases:
        details = rich_details(rpc_failure(call, request))
        assert (details.code, details.bad_fields) == (grpc.StatusCode.INVALID_ARGUMENT, fields)
