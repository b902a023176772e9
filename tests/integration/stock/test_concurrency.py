"""Concurrent reservations on a real server: never oversold, one reservation per order id, no deadlock."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TypeVar

from common.generated.eshop.product.v1 import product_pb2 as pb
from common.generated.eshop.product.v1 import product_pb2_grpc as pb_grpc
from tests.support.helpers import (
    CALL_TIMEOUT_S,
    all_at_once,
    create_product,
    new_id,
    outcome,
    reserve_request,
    stock,
)

Stub = pb_grpc.ProductServiceStub
T = TypeVar("T")


def test_50_buyers_of_20_units_get_exactly_20(product_stub: Stub) -> None:
    product_id = create_product(product_stub, stock=20).product_id

    def buy() -> pb.ReserveStockResponse:
        request = reserve_request(new_id(), [(product_id, 1)])
        response: pb.ReserveStockResponse = product_stub.ReserveStock(request, timeout=CALL_TIMEOUT_S)
        return response

    results = all_at_once([buy] * 50)

    assert Counter(outcome(r) for r in results) == {"OK": 20, "FAILED_PRECONDITION": 30}
    assert stock(product_stub, product_id) == 0


def test_20_repeats_of_one_order_id_reserve_once(product_stub: Stub) -> None:
    product_id = create_product(product_stub, stock=100).product_id
    request = reserve_request(new_id(), [(product_id, 3)])

    results = all_at_once([lambda: product_stub.ReserveStock(request, timeout=CALL_TIMEOUT_S)] * 20)

    assert [outcome(r) for r in results] == ["OK"] * 20
    assert len({r.SerializeToString(deterministic=True) for r in results}) == 1
    assert stock(product_stub, product_id) == 97


def test_crossing_multi_line_reservations_finish_and_never_go_below_zero(product_stub: Stub) -> None:
    a = create_product(product_stub, stock=15).product_id
    b = create_product(product_stub, stock=15).product_id

    def reserve(lines: list[tuple[str, int]]) -> Callable[[], pb.ReserveStockResponse]:
        return lambda: product_stub.ReserveStock(reserve_request(new_id(), lines), timeout=CALL_TIMEOUT_S)

    calls = [reserve([(a, 1), (b, 1)]) if i % 2 else reserve([(b, 1), (a, 1)]) for i in range(40)]
    results = all_at_once(calls)

    outcomes = Counter(outcome(r) for r in results)
    assert outcomes == {"OK": 15, "FAILED_PRECONDITION": 25}
    assert (stock(product_stub, a), stock(product_stub, b)) == (0, 0)


def test_concurrent_releases_of_one_order_put_stock_back_once(product_stub: Stub) -> None:
    product_id = create_product(product_stub, stock=10).product_id
    order_id = new_id()
    product_stub.ReserveStock(reserve_request(order_id, [(product_id, 4)]))

    def release() -> pb.ReleaseStockResponse:
        request = pb.ReleaseStockRequest(order_id=order_id)
        response: pb.ReleaseStockResponse = product_stub.ReleaseStock(request, timeout=CALL_TIMEOUT_S)
        return response

    results = all_at_once([release] * 10)

    assert sorted(r.released for r in results) == [False] * 9 + [True]
    assert stock(product_stub, product_id) == 10
