"""Many buyers, little stock: exactly the stock is sold, the rest is rejected naming the product."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import grpc

from common.generated.eshop.order.v1 import order_pb2
from tests.support.faults import CALL_TIMEOUT_S
from tests.support.helpers import create_product, new_id, order_request
from tests.support.invariant import assert_stock_conserved, stock_levels, wait_for_quiescence
from tests.support.processes import Services

STOCK = 50
BUYERS = 200


def test_concurrent_orders_never_oversell(services: Services) -> None:
    product_id = create_product(services.product_stub(), stock=STOCK).product_id
    orders = services.order_stub()

    def buy(_: int) -> order_pb2.Order:
        # Generous: 200 calls through 10 server threads on a busy 2-core machine.
        order: order_pb2.Order = orders.CreateOrder(
            order_request(new_id(), (product_id, 1), request_id=new_id()), timeout=60
        )
        return order

    with ThreadPoolExecutor(max_workers=32) as pool:
        placed = list(pool.map(buy, range(BUYERS), timeout=5 * 60))

    statuses = Counter(order_pb2.OrderStatus.Name(o.status) for o in placed)
    assert statuses == {"ORDER_STATUS_CONFIRMED": STOCK, "ORDER_STATUS_REJECTED": BUYERS - STOCK}
    for order in placed:
        if order.status == order_pb2.ORDER_STATUS_REJECTED:
            assert list(order.failed_product_ids) == [product_id]
            assert order.total_amount == "0"
    assert stock_levels(services.product_db)[product_id] == 0
    wait_for_quiescence(services.order_db, timeout_s=6 * CALL_TIMEOUT_S)
    assert_stock_conserved(services.product_db, services.order_db, {product_id: STOCK})


def test_no_call_is_internal_under_contention(services: Services) -> None:
    """The same storm on two products at once, with multi-line orders that cannot all be served."""
    stub = services.product_stub()
    first, second = create_product(stub, stock=20).product_id, create_product(stub, stock=20).product_id
    orders = services.order_stub()

    def buy(i: int) -> grpc.StatusCode:
        lines = [(first, 1), (second, 1)] if i % 2 else [(second, 2), (first, 1)]
        try:
            orders.CreateOrder(order_request(new_id(), *lines, request_id=new_id()), timeout=60)
        except grpc.RpcError as error:
            return error.code()
        return grpc.StatusCode.OK

    with ThreadPoolExecutor(max_workers=16) as pool:
        codes = Counter(pool.map(buy, range(60), timeout=5 * 60))

    assert codes == {grpc.StatusCode.OK: 60}
    wait_for_quiescence(services.order_db, timeout_s=6 * CALL_TIMEOUT_S)
    assert_stock_conserved(services.product_db, services.order_db, {first: 20, second: 20})
