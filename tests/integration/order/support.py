"""Small helpers for the Order service's integration tests."""

from __future__ import annotations

import grpc
import pytest

from common.generated.eshop.order.v1 import order_pb2 as opb
from common.generated.eshop.product.v1 import product_pb2 as ppb
from tests.integration.order.conftest import OrderStub, ProductStub


def stock(products: ProductStub, product_id: str) -> int:
    product = products.GetProduct(ppb.GetProductRequest(product_id=product_id), timeout=5)
    return int(product.stock_quantity)


def get_order(orders: OrderStub, order_id: str) -> opb.Order:
    order: opb.Order = orders.GetOrder(opb.GetOrderRequest(order_id=order_id), timeout=5)
    return order


def only_order(orders: OrderStub) -> opb.Order:
    """The one order the service holds (for calls that failed before returning it)."""
    [order] = orders.ListOrders(opb.ListOrdersRequest(), timeout=5).orders
    found: opb.Order = order
    return found


def rpc_failure(call: object, request: object, timeout: float = 10, **kwargs: object) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        call(request, timeout=timeout, **kwargs)  # type: ignore[operator]
    return raised.value
