"""Helpers for the fault tests only: health checks, outage status codes, orders, background load.
The shared ones (new_id, create_product, order_request, wait_until) are in tests/support/helpers.py."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from common.generated.eshop.order.v1 import order_pb2, order_pb2_grpc
from tests.support.helpers import new_id, order_request

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
CALL_TIMEOUT_S = 10.0
# What a client may see while a service is being killed: the call failed, and said so honestly.
OUTAGE_CODES = {grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}
T = TypeVar("T")


def status_code_of(call: Callable[[], object]) -> grpc.StatusCode:
    """The status ``call`` ends with: OK, or the code of the RpcError it raised."""
    try:
        call()
    except grpc.RpcError as error:
        return error.code()
    return grpc.StatusCode.OK


PRODUCT_READINESS = "eshop.product.v1.ProductService"
ORDER_READINESS = "eshop.order.v1.OrderService"
READINESS = {"product": PRODUCT_READINESS, "order": ORDER_READINESS}
LIVENESS = ""


def health_status(target: str, timeout_s: float = 2.0, service: str = PRODUCT_READINESS) -> int | None:
    """The health status of ``service`` at ``target`` (by default the Product service's readiness, which
    follows its database); None when it does not answer."""
    with grpc.insecure_channel(target) as channel:
        try:
            response = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=timeout_s
            )
        except grpc.RpcError:
            return None
    status: int = response.status
    return status


def create_order(stub: order_pb2_grpc.OrderServiceStub, lines: Sequence[tuple[str, int]]) -> order_pb2.Order:
    order: order_pb2.Order = stub.CreateOrder(
        order_request(new_id(), *lines, request_id=new_id()), timeout=CALL_TIMEOUT_S
    )
    return order


@dataclass
class Outcome:
    code: grpc.StatusCode
    elapsed_s: float
    method: str = "CreateOrder"


@dataclass
class Load:
    """Threads that place one-unit orders in a loop until stopped; every call has a 10 s deadline.
    ``mixed``: every third order confirmed is cancelled, and every fourth turn lists the customer's orders."""

    stub: order_pb2_grpc.OrderServiceStub
    product_ids: Sequence[str]
    threads: int = 4
    mixed: bool = False
    outcomes: list[Outcome] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _workers: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> Load:
        for i in range(self.threads):
            worker = threading.Thread(target=self._run, args=(i,), name=f"load-{i}", daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def stop(self) -> Counter[grpc.StatusCode]:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=3 * CALL_TIMEOUT_S)
            assert not worker.is_alive(), "a load thread is stuck in a call past its deadline"
        return Counter(o.code for o in self.outcomes)

    def _run(self, index: int) -> None:
        n = 0
        customer_id = new_id()
        while not self._stop.is_set():
            product_id = self.product_ids[(index + n) % len(self.product_ids)]
            n += 1
            request = order_request(customer_id, (product_id, 1), request_id=new_id())
            order, code = self._call(
                "CreateOrder", partial(self.stub.CreateOrder, request, timeout=CALL_TIMEOUT_S)
            )
            confirmed = order is not None and order.status == order_pb2.ORDER_STATUS_CONFIRMED
            if self.mixed and confirmed and n % 3 == 0:
                assert order is not None
                cancel = order_pb2.CancelOrderRequest(order_id=order.order_id)
                self._call("CancelOrder", partial(self.stub.CancelOrder, cancel, timeout=CALL_TIMEOUT_S))
            if self.mixed and n % 4 == 0:
                listing = order_pb2.ListOrdersRequest(customer_id=customer_id, page_size=10)
                self._call("ListOrders", partial(self.stub.ListOrders, listing, timeout=CALL_TIMEOUT_S))
            if code is not grpc.StatusCode.OK:
                self._stop.wait(0.05)  # do not spin on a refused connection while a service is down

    def _call(self, method: str, call: Callable[[], T]) -> tuple[T | None, grpc.StatusCode]:
        started = time.monotonic()
        try:
            result: T | None = call()
            code = grpc.StatusCode.OK
        except grpc.RpcError as error:
            result, code = None, error.code()
        with self._lock:
            self.outcomes.append(Outcome(code, time.monotonic() - started, method))
        return result, code


def assert_outage_outcomes(outcomes: Sequence[Outcome]) -> None:
    """Every call ended within its deadline (plus scheduling slack) with OK or an honest outage code."""
    assert outcomes, "the load made no calls"
    odd = Counter((o.method, o.code) for o in outcomes if o.code not in OUTAGE_CODES)
    assert not odd, f"unexpected status codes under a crash: {odd}"
    slowest = max(o.elapsed_s for o in outcomes)
    assert slowest < CALL_TIMEOUT_S + 2.0, (
        f"a call took {slowest:.1f} s, past its {CALL_TIMEOUT_S} s deadline"
    )
