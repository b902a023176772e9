"""A ReserveStock whose commit happened but whose answer was lost: retried safely, stock taken once.

Two ways to lose an answer. Before any response header left, the client's retry policy may retry
(UNAVAILABLE, nothing committed from the client's point of view): idempotency by order id makes the
retry return the original reservation. After headers left, gRPC considers the call committed and never
retries it: the Order service must then reject the order and give the stock back by itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import grpc

from common.generated.eshop.order.v1 import order_pb2, order_pb2_grpc
from common.generated.eshop.product.v1 import product_pb2_grpc
from common.grpc.handler_wrapping import Behaviour, UnaryServerInterceptor
from tests.support.faults import CALL_TIMEOUT_S
from tests.support.helpers import create_product, new_id, order_request
from tests.support.invariant import assert_stock_conserved, stock_levels, wait_for_quiescence
from tests.support.processes import InProcess

RESERVE = "/eshop.product.v1.ProductService/ReserveStock"


class _NoHeaders:
    """A servicer context that keeps response headers back, so the call stays retryable."""

    def __init__(self, context: Any) -> None:
        self._context = context

    async def send_initial_metadata(self, metadata: Any) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


class DropFirstResponse(UnaryServerInterceptor):
    """Runs the real ReserveStock (it commits), then answers the first call with UNAVAILABLE."""

    def __init__(self, *, headers_sent: bool = False) -> None:
        self.attempts = 0
        self._headers_sent = headers_sent
        self._lock = threading.Lock()

    async def around(self, behaviour: Behaviour, request: Any, context: Any, method: str) -> Any:
        if method != RESERVE:
            return await behaviour(request, context)
        with self._lock:
            self.attempts += 1
            first = self.attempts == 1
        if not first:
            return await behaviour(request, context)
        await behaviour(request, context if self._headers_sent else _NoHeaders(context))
        await context.abort(grpc.StatusCode.UNAVAILABLE, "connection lost after the commit (injected)")


def _place(services: InProcess, product_id: str) -> order_pb2.Order:
    with grpc.insecure_channel(services.order_target) as channel:
        stub = order_pb2_grpc.OrderServiceStub(channel)
        order: order_pb2.Order = stub.CreateOrder(
            order_request(new_id(), (product_id, 3), request_id=new_id()), timeout=CALL_TIMEOUT_S
        )
        return order


def _product(services: InProcess, stock: int) -> str:
    with grpc.insecure_channel(services.product_target) as channel:
        return create_product(product_pb2_grpc.ProductServiceStub(channel), stock=stock).product_id


def test_a_lost_reservation_answer_is_retried_and_takes_stock_once(
    start_in_process: Callable[..., InProcess],
) -> None:
    dropper = DropFirstResponse()
    services = start_in_process(product_interceptors=(dropper,))
    product_id = _product(services, stock=10)

    order = _place(services, product_id)

    assert order.status == order_pb2.ORDER_STATUS_CONFIRMED
    assert dropper.attempts == 2, "the retry policy should have retried the UNAVAILABLE answer once"
    assert stock_levels(services.product_db)[product_id] == 7
    wait_for_quiescence(services.order_db, timeout_s=30)
    assert_stock_conserved(services.product_db, services.order_db, {product_id: 10})


def test_a_lost_answer_that_cannot_be_retried_gives_the_stock_back(
    start_in_process: Callable[..., InProcess],
) -> None:
    dropper = DropFirstResponse(headers_sent=True)
    services = start_in_process(product_interceptors=(dropper,))
    product_id = _product(services, stock=10)

    try:
        _place(services, product_id)
        raise AssertionError("CreateOrder should have failed: the product service's answer was lost")
    except grpc.RpcError as error:
        assert error.code() is grpc.StatusCode.UNAVAILABLE

    assert dropper.attempts == 1, "a call whose headers were sent is committed: gRPC must not retry it"
    # The reservation did happen; the compensating release puts it back.
    wait_for_quiescence(services.order_db, timeout_s=30)
    assert stock_levels(services.product_db)[product_id] == 10
    with grpc.insecure_channel(services.order_target) as channel:
        listed = order_pb2_grpc.OrderServiceStub(channel).ListOrders(
            order_pb2.ListOrdersRequest(), timeout=CALL_TIMEOUT_S
        )
    assert [o.status for o in listed.orders] == [order_pb2.ORDER_STATUS_REJECTED]
    assert_stock_conserved(services.product_db, services.order_db, {product_id: 10})
