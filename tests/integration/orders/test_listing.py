"""ListOrders over gRPC: newest first, by customer, paged with opaque tokens."""

from __future__ import annotations

import base64
import json
from datetime import datetime

import grpc

from common.generated.eshop.order.v1 import order_pb2 as opb
from tests.support.helpers import create_product, new_id, order_request, rich_details, rpc_failure
from tests.support.servers import OrderStub, ProductStub


def place(orders: OrderStub, products: ProductStub, *customers: str) -> list[str]:
    """One order per customer given, in order; returns their ids, oldest first."""
    product = create_product(products, stock=1000)
    return [orders.CreateOrder(order_request(c, (product.product_id, 1))).order_id for c in customers]


def pages(orders: OrderStub, customer_id: str = "", page_size: int = 2) -> list[list[str]]:
    found: list[list[str]] = []
    token = ""
    while True:
        page = orders.ListOrders(
            opb.ListOrdersRequest(customer_id=customer_id, page_size=page_size, page_token=token)
        )
        found.append([o.order_id for o in page.orders])
        token = page.next_page_token
        if not token:
            return found


def test_newest_first(order_stub: OrderStub, product_stub: ProductStub) -> None:
    alice, bob = new_id(), new_id()
    ids = place(order_stub, product_stub, alice, bob, alice)

    page = order_stub.ListOrders(opb.ListOrdersRequest())

    assert [o.order_id for o in page.orders] == ids[::-1]
    assert page.next_page_token == ""
    assert all(o.status == opb.ORDER_STATUS_CONFIRMED for o in page.orders)


def test_by_customer(order_stub: OrderStub, product_stub: ProductStub) -> None:
    alice, bob = new_id(), new_id()
    a1, b1, a2, b2, a3 = place(order_stub, product_stub, alice, bob, alice, bob, alice)

    assert pages(order_stub, alice, page_size=10) == [[a3, a2, a1]]
    assert pages(order_stub, bob, page_size=10) == [[b2, b1]]
    assert pages(order_stub, new_id(), page_size=10) == [[]]


def test_paging_with_tokens_visits_each_order_once(order_stub: OrderStub, product_stub: ProductStub) -> None:
    alice, bob = new_id(), new_id()
    ids = place(order_stub, product_stub, alice, alice, bob, alice, alice)

    assert pages(order_stub, page_size=2) == [ids[4:2:-1], ids[2:0:-1], ids[:1]]
    alices = [i for i, c in zip(ids, [alice, alice, bob, alice, alice], strict=True) if c == alice]
    assert pages(order_stub, alice, page_size=2) == [alices[:1:-1], alices[1::-1]]


def test_a_forged_token_is_invalid_argument_not_internal(
    order_stub: OrderStub, product_stub: ProductStub
) -> None:
    place(order_stub, product_stub, new_id())
    # Well-formed JSON with the right keys and a time without a zone.
    position = {"id": new_id(), "t": datetime(2030, 1, 1).isoformat()}
    token = base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")

    details = rich_details(rpc_failure(order_stub.ListOrders, opb.ListOrdersRequest(page_token=token)))

    assert (details.code, details.bad_fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["page_token"])
