"""The Product client's built-in retries and deadline, against a Product server that injects faults.

Retries run beneath the client's interceptors, so only the server can count attempts: a fault-injecting
interceptor on the Product server (outermost) answers UNAVAILABLE and counts every ReserveStock attempt.
"""

from __future__ import annotations

import grpc

from common.generated.eshop.order.v1 import order_pb2 as opb
from common.generated.eshop.product.v1 import product_pb2 as ppb
from order.application.order_handlers import UNAVAILABLE_REASON
from tests.support.helpers import (
    create_product,
    new_id,
    only_order,
    order_request,
    rpc_failure,
    stock,
    wait_until,
)
from tests.support.interceptors import BlockReserve, FailReserve, HoldReserveResponse
from tests.support.servers import ProductStub, Servers

FAST_RETRIES = {"product_retry_initial_backoff_s": 0.02, "product_retry_max_backoff_s": 0.05}


def test_two_unavailable_answers_are_retried_and_the_order_confirmed(servers: Servers) -> None:
    faults = FailReserve(failures=2)
    product = servers.product(interceptors=(faults,))
    products = servers.product_stub(product)
    orders = servers.order_stub(servers.order(product.port, **FAST_RETRIES))
    lamp = create_product(products, stock=5)

    order = orders.CreateOrder(order_request(new_id(), (lamp.product_id, 2)), timeout=10)

    assert order.status == opb.ORDER_STATUS_CONFIRMED
    assert faults.attempts == 3
    assert stock(products, lamp.product_id) == 3


def test_always_unavailable_fails_after_max_attempts_and_rejects_the_order(servers: Servers) -> None:
    faults = FailReserve(failures=None)
    product = servers.product(interceptors=(faults,))
    products = servers.product_stub(product)
    orders = servers.order_stub(servers.order(product.port, product_retry_max_attempts=3, **FAST_RETRIES))
    lamp = create_product(products, stock=5)

    failure = rpc_failure(orders.CreateOrder, order_request(new_id(), (lamp.product_id, 2)))

    assert failure.code() == grpc.StatusCode.UNAVAILABLE
    assert faults.attempts == 3
    order = only_order(orders)
    assert order.order_id in failure.details()
    assert order.status == opb.ORDER_STATUS_REJECTED
    assert order.status_reason == UNAVAILABLE_REASON
    assert stock(products, lamp.product_id) == 5


def test_a_reservation_past_the_deadline_fails_deadline_exceeded(servers: Servers) -> None:
    blocker = BlockReserve()
    servers.unblock.append(blocker.release)
    product = servers.product(interceptors=(blocker,))
    products = servers.product_stub(product)
    orders = servers.order_stub(servers.order(product.port, product_call_timeout_s=0.5))
    lamp = create_product(products, stock=5)

    failure = rpc_failure(orders.CreateOrder, order_request(new_id(), (lamp.product_id, 2)), timeout=10)

    assert failure.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    order = only_order(orders)
    assert order.status == opb.ORDER_STATUS_REJECTED
    assert order.status_reason == UNAVAILABLE_REASON
    blocker.release.set()  # the late ReserveStock runs now: nothing of it may stay committed
    assert blocker.finished.wait(10)
    # The outbox's release leaves a marker; a reservation that had been committed would show its items.
    wait_until(
        lambda: reservation_state(products, order.order_id) == ppb.Reservation.STATE_RELEASED,
        10,
        "the reservation to be marked released",
    )
    held = products.GetReservation(ppb.GetReservationRequest(order_id=order.order_id), timeout=5)
    assert not held.items
    assert stock(products, lamp.product_id) == 5


def test_a_reservation_that_runs_past_its_callers_deadline_is_not_committed(servers: Servers) -> None:
    # Straight to the Product service, so no compensating release can hide what the handler commits.
    blocker = BlockReserve()
    servers.unblock.append(blocker.release)
    products = servers.product_stub(servers.product(interceptors=(blocker,)))
    lamp = create_product(products, stock=5)
    order_id = new_id()
    request = ppb.ReserveStockRequest(
        order_id=order_id, items=[ppb.StockItem(product_id=lamp.product_id, quantity=2)]
    )

    failure = rpc_failure(products.ReserveStock, request, timeout=0.3)
    blocker.release.set()  # the handler runs now, after its caller gave up

    assert failure.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert blocker.finished.wait(10)
    assert stock(products, lamp.product_id) == 5
    missing = rpc_failure(products.GetReservation, ppb.GetReservationRequest(order_id=order_id))
    assert missing.code() == grpc.StatusCode.NOT_FOUND


def test_the_call_to_the_product_service_gets_only_the_time_its_caller_has_left(servers: Servers) -> None:
    # The Product call's own timeout (5 s) is longer than the caller's (0.5 s): the Order service must
    # give up with its caller, not keep the order PENDING for the full 5 s.
    blocker = BlockReserve()
    servers.unblock.append(blocker.release)
    product = servers.product(interceptors=(blocker,))
    products = servers.product_stub(product)
    orders = servers.order_stub(servers.order(product.port, product_call_timeout_s=5))
    lamp = create_product(products, stock=5)

    failure = rpc_failure(orders.CreateOrder, order_request(new_id(), (lamp.product_id, 2)), timeout=0.5)

    assert failure.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    wait_until(lambda: only_order(orders).status == opb.ORDER_STATUS_REJECTED, 3, "the order to be REJECTED")


def test_a_reservation_that_lands_after_the_deadline_is_released_by_the_outbox(servers: Servers) -> None:
    # The Product side commits the reservation in time and only its answer is late: the Order side
    # sees DEADLINE_EXCEEDED while the stock is really held, and only the outbox's release returns it.
    holder = HoldReserveResponse()
    servers.unblock.append(holder.release)
    product = servers.product(interceptors=(holder,))
    products = servers.product_stub(product)
    orders = servers.order_stub(servers.order(product.port, product_call_timeout_s=0.5))
    lamp = create_product(products, stock=5)
    failure = rpc_failure(orders.CreateOrder, order_request(new_id(), (lamp.product_id, 2)), timeout=10)

    assert failure.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert holder.committed.wait(10), "the reservation never committed on the Product side"
    order = only_order(orders)
    assert order.status == opb.ORDER_STATUS_REJECTED
    # The stock comes back by a release of the real reservation (its items), not by a rollback.
    wait_until(lambda: stock(products, lamp.product_id) == 5, 10, "the stock to be released back to 5")
    held = products.GetReservation(ppb.GetReservationRequest(order_id=order.order_id), timeout=5)
    assert held.state == ppb.Reservation.STATE_RELEASED
    assert [(i.product_id, i.quantity) for i in held.items] == [(lamp.product_id, 2)]
    assert only_order(orders).status == opb.ORDER_STATUS_REJECTED


def reservation_state(products: ProductStub, order_id: str) -> int | None:
    try:
        held = products.GetReservation(ppb.GetReservationRequest(order_id=order_id), timeout=5)
    except grpc.RpcError as error:
        if error.code() == grpc.StatusCode.NOT_FOUND:
            return None
        raise
    return int(held.state)
