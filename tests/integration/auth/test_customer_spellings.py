"""A customer is its id in canonical form: a token whose ``sub`` spells another customer's UUID
differently (upper case, braces, ``urn:uuid:``, no hyphens) is no customer and never acts as that one,
while a customer whose token is canonical reads, lists and cancels its own orders, whatever the case of
the ``customer_id`` it sends."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import grpc
import pytest

from common.generated.eshop.order.v1 import order_pb2 as order_pb
from tests.support.auth import TIMEOUT_S, AuthedServices, Metadata, new_customer

SPELLINGS: dict[str, Callable[[str], str]] = {
    "upper case": str.upper,
    "braces": lambda canonical: "{" + canonical + "}",
    "urn:uuid:": lambda canonical: f"urn:uuid:{canonical}",
    "no hyphens": lambda canonical: uuid.UUID(canonical).hex,
}


def _code(method: Callable[..., object], request: object, metadata: Metadata) -> grpc.StatusCode:
    try:
        method(request, timeout=TIMEOUT_S, metadata=metadata)
    except grpc.RpcError as error:
        assert isinstance(error, grpc.Call)
        return error.code()
    return grpc.StatusCode.OK


def _orders_of(authed: AuthedServices, customer_id: str) -> set[str]:
    page: order_pb.ListOrdersResponse = authed.order.ListOrders(
        order_pb.ListOrdersRequest(customer_id=customer_id, page_size=100),
        timeout=TIMEOUT_S,
        metadata=authed.minter.staff("orders:admin"),
    )
    return {order.order_id for order in page.orders}


@pytest.mark.parametrize("spelling", SPELLINGS, ids=list(SPELLINGS))
def test_another_spelling_of_a_customers_id_is_no_customer(authed: AuthedServices, spelling: str) -> None:
    victim = new_customer()
    product_id = authed.new_product()
    victims_order = authed.new_order(victim, product_id).order_id
    posing = authed.minter.customer(SPELLINGS[spelling](victim))
    line = order_pb.OrderLine(product_id=product_id, quantity=1)

    listed: order_pb.ListOrdersResponse = authed.order.ListOrders(
        order_pb.ListOrdersRequest(page_size=100), timeout=TIMEOUT_S, metadata=posing
    )
    assert list(listed.orders) == []
    for customer_id in (victim, SPELLINGS[spelling](victim)):
        listing = order_pb.ListOrdersRequest(customer_id=customer_id)
        assert _code(authed.order.ListOrders, listing, posing) in (
            grpc.StatusCode.PERMISSION_DENIED,
            grpc.StatusCode.INVALID_ARGUMENT,  # braces, urn:uuid: and bare hex are no UUID in a request
        )
        create = order_pb.CreateOrderRequest(customer_id=customer_id, items=[line])
        assert _code(authed.order.CreateOrder, create, posing) in (
            grpc.StatusCode.PERMISSION_DENIED,
            grpc.StatusCode.INVALID_ARGUMENT,
        )
    get = order_pb.GetOrderRequest(order_id=victims_order)
    cancel = order_pb.CancelOrderRequest(order_id=victims_order)
    assert _code(authed.order.GetOrder, get, posing) is grpc.StatusCode.PERMISSION_DENIED
    assert _code(authed.order.CancelOrder, cancel, posing) is grpc.StatusCode.PERMISSION_DENIED

    assert _orders_of(authed, victim) == {victims_order}  # nothing was created for the victim


def test_a_customer_with_a_canonical_token_reads_lists_and_cancels_its_own_orders(
    authed: AuthedServices,
) -> None:
    me = new_customer()
    mine = authed.minter.customer(me)
    product_id = authed.new_product()
    line = order_pb.OrderLine(product_id=product_id, quantity=1)
    first = authed.new_order(me, product_id)
    # Its id in upper case in a request is still its own id (requests accept either case).
    second: order_pb.Order = authed.order.CreateOrder(
        order_pb.CreateOrderRequest(customer_id=me.upper(), items=[line]), timeout=TIMEOUT_S, metadata=mine
    )
    assert second.customer_id == me

    for customer_id in ("", me, me.upper()):
        listing = order_pb.ListOrdersRequest(customer_id=customer_id, page_size=100)
        page: order_pb.ListOrdersResponse = authed.order.ListOrders(listing, timeout=TIMEOUT_S, metadata=mine)
        assert {order.order_id for order in page.orders} == {first.order_id, second.order_id}
    read: order_pb.Order = authed.order.GetOrder(
        order_pb.GetOrderRequest(order_id=first.order_id), timeout=TIMEOUT_S, metadata=mine
    )
    assert read == first
    cancelled: order_pb.Order = authed.order.CancelOrder(
        order_pb.CancelOrderRequest(order_id=second.order_id.upper()), timeout=TIMEOUT_S, metadata=mine
    )
    assert cancelled.status == order_pb.ORDER_STATUS_CANCELLED
