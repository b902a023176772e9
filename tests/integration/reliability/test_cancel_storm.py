"""Cancellations while the Product service is dead succeed at once; the releases wait in the durable
outbox and land, all of them exactly once, when it comes back."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from common.generated.eshop.order.v1 import order_pb2
from tests.support.faults import CALL_TIMEOUT_S, create_order
from tests.support.helpers import create_product, wait_until
from tests.support.invariant import assert_stock_conserved, backlog, stock_levels, wait_for_quiescence
from tests.support.processes import Services

ORDERS = 30
UNITS_EACH = 2
STOCK = 100
RECOVERY_TIMEOUT_S = 60.0


@pytest.mark.slow
def test_cancel_storm_while_product_service_is_down(services: Services) -> None:
    product_id = create_product(services.product_stub(), stock=STOCK).product_id
    orders = services.order_stub()
    placed = [create_order(orders, [(product_id, UNITS_EACH)]) for _ in range(ORDERS)]
    assert {o.status for o in placed} == {order_pb2.ORDER_STATUS_CONFIRMED}
    assert stock_levels(services.product_db)[product_id] == STOCK - ORDERS * UNITS_EACH

    services.product.kill()

    def cancel(order: order_pb2.Order) -> tuple[order_pb2.Order, float]:
        started = time.monotonic()
        request = order_pb2.CancelOrderRequest(order_id=order.order_id, reason="storm")
        cancelled: order_pb2.Order = orders.CancelOrder(request, timeout=CALL_TIMEOUT_S)
        return cancelled, time.monotonic() - started

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(cancel, placed, timeout=5 * CALL_TIMEOUT_S))

    assert {o.status for o, _ in results} == {order_pb2.ORDER_STATUS_CANCELLED}
    slowest = max(elapsed for _, elapsed in results)
    assert slowest < CALL_TIMEOUT_S, f"a cancellation waited {slowest:.1f} s on the dead service"
    assert backlog(services.order_db).queued_releases == ORDERS, "every release should wait in the outbox"
    assert stock_levels(services.product_db)[product_id] == STOCK - ORDERS * UNITS_EACH

    services.product.start()

    wait_until(
        lambda: stock_levels(services.product_db)[product_id] == STOCK,
        RECOVERY_TIMEOUT_S,
        "all cancelled stock to be released",
        poll_s=0.2,
    )
    wait_for_quiescence(services.order_db, timeout_s=RECOVERY_TIMEOUT_S)
    assert_stock_conserved(services.product_db, services.order_db, {product_id: STOCK})
    # Cancelling again changes nothing and queues nothing.
    again = orders.CancelOrder(
        order_pb2.CancelOrderRequest(order_id=placed[0].order_id), timeout=CALL_TIMEOUT_S
    )
    assert again.status == order_pb2.ORDER_STATUS_CANCELLED
    assert backlog(services.order_db).queued_releases == 0
    assert stock_levels(services.product_db)[product_id] == STOCK
