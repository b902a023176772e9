"""Concurrent CancelOrder calls of one order, on every database: all answer the same CANCELLED order, and
the stock comes back once. On PostgreSQL the calls really overlap (each transaction on its own thread
and connection): several read CONFIRMED, one saves, and the others find their save refused; which of
them lose the race varies, so a few orders are cancelled in turn."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from common.generated.eshop.order.v1 import order_pb2 as opb
from tests.support.helpers import create_product, new_id, order_request, stock, wait_until
from tests.support.invariant import backlog
from tests.support.servers import OrderStub, Servers

CANCELS = 20
ORDERS = 3


def test_20_concurrent_cancels_all_answer_the_cancelled_order_and_the_stock_comes_back_once(
    servers: Servers,
) -> None:
    product = servers.product()
    order_db = servers.database_url("order")
    order_server = servers.order(product.port, database_url=order_db)
    products, orders = servers.product_stub(product), servers.order_stub(order_server)
    lamp = create_product(products, stock=10)

    for _ in range(ORDERS):
        start = threading.Barrier(CANCELS)
        order = orders.CreateOrder(order_request(new_id(), (lamp.product_id, 3)), timeout=10)
        assert order.status == opb.ORDER_STATUS_CONFIRMED
        assert stock(products, lamp.product_id) == 7
        with ThreadPoolExecutor(CANCELS) as pool:
            answers = list(
                pool.map(_cancel, [orders] * CANCELS, [order.order_id] * CANCELS, [start] * CANCELS)
            )

        assert [opb.OrderStatus.Name(a.status) for a in answers] == ["ORDER_STATUS_CANCELLED"] * CANCELS
        assert all(a == answers[0] for a in answers)
        wait_until(lambda: backlog(order_db).queued_releases == 0, 10, "the release to be delivered")
        assert stock(products, lamp.product_id) == 10  # back once, not once per cancel


def _cancel(orders: OrderStub, order_id: str, start: threading.Barrier) -> opb.Order:
    start.wait(timeout=10)  # all at once
    request = opb.CancelOrderRequest(order_id=order_id, reason="changed my mind")
    cancelled: opb.Order = orders.CancelOrder(request, timeout=30)
    return cancelled
