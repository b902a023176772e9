"""Inputs at the contract's limits: the largest error a request can cause still reaches the caller with
its real status, and stock at the int32 limit never breaks a product."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from uuid import uuid4

import grpc
import pytest

from common.generated.eshop.order.v1 import order_pb2, order_pb2_grpc
from common.generated.eshop.product.v1 import product_pb2 as pb
from common.generated.eshop.product.v1 import product_pb2_grpc
from common.validation import MAX_BATCH_GET_IDS
from tests.support.faults import CALL_TIMEOUT_S, status_code_of
from tests.support.helpers import create_product, new_id, order_request
from tests.support.processes import InProcess

INT32_MAX = 2**31 - 1


@pytest.fixture
def services(start_in_process: Callable[..., InProcess]) -> Iterator[InProcess]:
    yield start_in_process()


@pytest.fixture
def products(services: InProcess) -> Iterator[product_pb2_grpc.ProductServiceStub]:
    with grpc.insecure_channel(services.product_target) as channel:
        yield product_pb2_grpc.ProductServiceStub(channel)


def _reserve(stub: product_pb2_grpc.ProductServiceStub, lines: list[tuple[str, int]]) -> grpc.StatusCode:
    items = [pb.StockItem(product_id=p, quantity=q) for p, q in lines]
    request = pb.ReserveStockRequest(order_id=str(uuid4()), items=items)
    return status_code_of(lambda: stub.ReserveStock(request, timeout=CALL_TIMEOUT_S))


def test_the_largest_errors_keep_their_status(
    services: InProcess, products: product_pb2_grpc.ProductServiceStub
) -> None:
    """Status message and details travel in trailers, which clients cap at ~8-16 KiB by default:
    100 bad lines used to come back as RESOURCE_EXHAUSTED instead of what was wrong."""
    known = [create_product(products, stock=1).product_id for _ in range(100)]
    bad_lines = [("€" * 60, 0)] * 100
    unknown = [(str(uuid4()), 1) for _ in range(100)]

    assert _reserve(products, bad_lines) is grpc.StatusCode.INVALID_ARGUMENT
    assert _reserve(products, unknown) is grpc.StatusCode.NOT_FOUND
    assert _reserve(products, [(p, 10_000) for p in known]) is grpc.StatusCode.FAILED_PRECONDITION
    batch = pb.BatchGetProductsRequest(product_ids=[str(uuid4()) for _ in range(MAX_BATCH_GET_IDS)])
    assert (
        status_code_of(lambda: products.BatchGetProducts(batch, timeout=CALL_TIMEOUT_S))
        is grpc.StatusCode.NOT_FOUND
    )

    with grpc.insecure_channel(services.order_target) as channel:
        orders = order_pb2_grpc.OrderServiceStub(channel)
        invalid = order_request(new_id(), *bad_lines, request_id=new_id())
        assert (
            status_code_of(lambda: orders.CreateOrder(invalid, timeout=CALL_TIMEOUT_S))
            is grpc.StatusCode.INVALID_ARGUMENT
        )
        rejected = orders.CreateOrder(
            order_request(new_id(), *unknown, request_id=new_id()), timeout=CALL_TIMEOUT_S
        )
    # Rejected for what it is (not "product service unavailable"), naming as many products as fit.
    assert rejected.status == order_pb2.ORDER_STATUS_REJECTED
    assert rejected.failed_product_ids
    assert set(rejected.failed_product_ids) <= {p for p, _ in unknown}


def test_stock_at_the_int32_limit_survives_a_release(products: product_pb2_grpc.ProductServiceStub) -> None:
    product_id = create_product(products, stock=INT32_MAX).product_id
    order_id = str(uuid4())
    reserve = pb.ReserveStockRequest(
        order_id=order_id, items=[pb.StockItem(product_id=product_id, quantity=10)]
    )
    assert len(products.ReserveStock(reserve, timeout=CALL_TIMEOUT_S).items) == 1
    restock = pb.RestockProductRequest(product_id=product_id, quantity=10)
    restocked = status_code_of(lambda: products.RestockProduct(restock, timeout=CALL_TIMEOUT_S))

    # Available (INT32_MAX - 10) + 10 fits, but the 10 units held come back on release: refused.
    assert restocked is grpc.StatusCode.FAILED_PRECONDITION
    release = pb.ReleaseStockRequest(order_id=order_id)
    assert (
        status_code_of(lambda: products.ReleaseStock(release, timeout=CALL_TIMEOUT_S)) is grpc.StatusCode.OK
    )
    got = products.GetProduct(pb.GetProductRequest(product_id=product_id), timeout=CALL_TIMEOUT_S)
    assert got.stock_quantity == INT32_MAX
