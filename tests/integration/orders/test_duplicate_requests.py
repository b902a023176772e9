"""Concurrent CreateOrder calls with one request_id (AIP-155): one order, stock taken once, and never a
PENDING answer. The first call's ReserveStock is held in the Product service until every duplicate has
arrived, so the duplicates really find the first call in progress."""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc

from common.generated.eshop.order.v1 import order_pb2 as opb
from tests.support.helpers import create_product, new_id, order_request, rpc_failure, stock, wait_until
from tests.support.interceptors import RESERVE, BlockReserve, Record
from tests.support.servers import Servers

CREATE_ORDER = "/eshop.order.v1.OrderService/CreateOrder"
TWINS = 20

Continuation = Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]]


class CountCreates(grpc.aio.ServerInterceptor):
    """Counts CreateOrder calls as their handlers start (on the Order server's loop)."""

    def __init__(self) -> None:
        self.started = 0
        self._lock = threading.Lock()

    async def intercept_service(
        self, continuation: Continuation, details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        handler = await continuation(details)
        if handler is None or details.method != CREATE_ORDER:
            return handler
        inner = handler.unary_unary

        async def counted(request: Any, context: Any) -> Any:
            with self._lock:
                self.started += 1
            return await inner(request, context)

        return grpc.unary_unary_rpc_method_handler(
            counted,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


def _held_services(servers: Servers) -> tuple[Any, Any, BlockReserve, Record, CountCreates]:
    blocker, record, creates = BlockReserve(), Record(), CountCreates()
    servers.unblock.append(blocker.release)
    product = servers.product(interceptors=(record, blocker))
    order = servers.order(product.port, interceptors=(creates,), product_call_timeout_s=20)
    return servers.product_stub(product), servers.order_stub(order), blocker, record, creates


def test_20_concurrent_creates_with_one_request_id_all_answer_the_same_confirmed_order(
    servers: Servers,
) -> None:
    products, orders, blocker, record, creates = _held_services(servers)
    lamp = create_product(products, stock=10)
    request = order_request(new_id(), (lamp.product_id, 2), request_id=new_id())

    with ThreadPoolExecutor(TWINS) as pool:
        answers = [pool.submit(orders.CreateOrder, request, timeout=30) for _ in range(TWINS)]
        wait_until(
            lambda: creates.started == TWINS and len(record.of(RESERVE)) == 1,
            15,
            "every twin to start and exactly one ReserveStock",
        )
        blocker.release.set()
        results = [answer.result() for answer in answers]

    statuses = [opb.OrderStatus.Name(r.status) for r in results]
    assert statuses == ["ORDER_STATUS_CONFIRMED"] * TWINS
    assert {r.order_id for r in results} == {results[0].order_id}
    assert all(r == results[0] for r in results)
    assert len(record.of(RESERVE)) == 1
    assert stock(products, lamp.product_id) == 8


def test_a_duplicate_whose_deadline_ends_while_the_first_is_in_progress_is_aborted(
    servers: Servers,
) -> None:
    products, orders, blocker, record, _ = _held_services(servers)
    lamp = create_product(products, stock=10)
    request_id = new_id()
    request = order_request(new_id(), (lamp.product_id, 2), request_id=request_id)

    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(orders.CreateOrder, request, timeout=30)
        wait_until(lambda: len(record.of(RESERVE)) == 1, 15, "the first ReserveStock")

        failure = rpc_failure(orders.CreateOrder, request, timeout=1.0)

        assert failure.code() == grpc.StatusCode.ABORTED
        assert failure.details() == f"request {request_id} is still in progress, retry"
        blocker.release.set()
        confirmed = first.result()

    assert confirmed.status == opb.ORDER_STATUS_CONFIRMED
    assert orders.CreateOrder(request, timeout=10) == confirmed  # a retry now gets the final order
    assert stock(products, lamp.product_id) == 8
