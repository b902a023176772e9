"""Helpers for every integration test: ids, set-up requests, look-ups, error details, polling, and calls
released all at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar
from uuid import uuid4

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from common.generated.eshop.order.v1 import order_pb2 as opb
from common.generated.eshop.order.v1 import order_pb2_grpc as opb_grpc
from common.generated.eshop.product.v1 import product_pb2 as pb
from common.generated.eshop.product.v1 import product_pb2_grpc as pb_grpc

__all__ = [
    "CALL_TIMEOUT_S",
    "RichDetails",
    "all_at_once",
    "create_product",
    "get_order",
    "new_id",
    "only_order",
    "order_request",
    "outcome",
    "reserve_request",
    "rich_details",
    "rpc_failure",
    "stock",
    "wait_until",
]

T = TypeVar("T")


@dataclass
class RichDetails:
    """The google.rpc details of a failed call, unpacked by type."""

    code: grpc.StatusCode
    message: str
    bad_request: list[error_details_pb2.BadRequest.FieldViolation] = field(default_factory=list)
    precondition: list[error_details_pb2.PreconditionFailure.Violation] = field(default_factory=list)
    resources: list[error_details_pb2.ResourceInfo] = field(default_factory=list)

    @property
    def bad_fields(self) -> list[str]:
        return [v.field for v in self.bad_request]


def rich_details(error: grpc.RpcError) -> RichDetails:
    """Unpack the ``grpc-status-details-bin`` trailer of ``error`` (AIP-193 details)."""
    assert isinstance(error, grpc.Call), "expected the RpcError of a unary call"
    details = RichDetails(error.code(), error.details() or "")
    status = rpc_status.from_call(error)
    for packed in status.details if status is not None else []:
        if packed.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            packed.Unpack(bad_request)
            details.bad_request.extend(bad_request.field_violations)
        elif packed.Is(error_details_pb2.PreconditionFailure.DESCRIPTOR):
            failure = error_details_pb2.PreconditionFailure()
            packed.Unpack(failure)
            details.precondition.extend(failure.violations)
        elif packed.Is(error_details_pb2.ResourceInfo.DESCRIPTOR):
            resource = error_details_pb2.ResourceInfo()
            packed.Unpack(resource)
            details.resources.append(resource)
    return details


def new_id() -> str:
    return str(uuid4())


def create_product(
    stub: pb_grpc.ProductServiceStub,
    *,
    stock: int = 10,
    price: str = "9.99",
    name: str = "Widget",
    description: str = "",
    low_stock_threshold: int = 2,
    category: str = "",
) -> pb.Product:
    request = pb.CreateProductRequest(
        name=name,
        description=description,
        price=price,
        stock_quantity=stock,
        low_stock_threshold=low_stock_threshold,
        category=category,
    )
    # 10 s, not 5: the fault tests create products on a machine busy killing and restarting services.
    product: pb.Product = stub.CreateProduct(request, timeout=10)
    return product


def reserve_request(order_id: str, lines: Iterable[tuple[str, int]]) -> pb.ReserveStockRequest:
    return pb.ReserveStockRequest(
        order_id=order_id, items=[pb.StockItem(product_id=p, quantity=q) for p, q in lines]
    )


def order_request(customer_id: str, *lines: tuple[str, int], request_id: str = "") -> opb.CreateOrderRequest:
    return opb.CreateOrderRequest(
        customer_id=customer_id,
        items=[opb.OrderLine(product_id=p, quantity=q) for p, q in lines],
        request_id=request_id,
    )


def stock(products: pb_grpc.ProductServiceStub, product_id: str) -> int:
    product = products.GetProduct(pb.GetProductRequest(product_id=product_id), timeout=5)
    return int(product.stock_quantity)


def get_order(orders: opb_grpc.OrderServiceStub, order_id: str) -> opb.Order:
    order: opb.Order = orders.GetOrder(opb.GetOrderRequest(order_id=order_id), timeout=5)
    return order


def only_order(orders: opb_grpc.OrderServiceStub) -> opb.Order:
    """The one order the service holds (for calls that failed before returning it)."""
    [order] = orders.ListOrders(opb.ListOrdersRequest(), timeout=5).orders
    found: opb.Order = order
    return found


def rpc_failure(call: object, request: object, timeout: float = 10, **kwargs: object) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        call(request, timeout=timeout, **kwargs)  # type: ignore[operator]
    return raised.value


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str, poll_s: float = 0.1) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(poll_s)


CALL_TIMEOUT_S = 30  # generous: a hung call fails the test instead of hanging the run


def all_at_once(calls: list[Callable[[], T]]) -> list[T | grpc.RpcError]:
    """Run every call on its own thread, released together by a barrier; results in call order."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], T]) -> T | grpc.RpcError:
        barrier.wait()
        try:
            return call()
        except grpc.RpcError as error:
            return error

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return [f.result(timeout=CALL_TIMEOUT_S * 2) for f in [pool.submit(run, c) for c in calls]]


def outcome(result: object) -> str:
    return result.code().name if isinstance(result, grpc.RpcError) else "OK"
