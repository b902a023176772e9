"""The Order service calls the Product service as itself: with the token in its file, re-read
when the file changes, and never with the customer's token, even one that would be allowed."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from common.generated.eshop.order.v1 import order_pb2 as order_pb
from common.generated.eshop.order.v1 import order_pb2_grpc as order_grpc
from common.generated.eshop.product.v1 import product_pb2 as product_pb
from common.generated.eshop.product.v1 import product_pb2_grpc as product_grpc
from order.settings import OrderSettings
from product.settings import ProductSettings
from tests.support.auth import (
    PRODUCT_AUDIENCE,
    TIMEOUT_S,
    Minter,
    auth_settings,
    write_service_token,
)
from tests.support.helpers import wait_until
from tests.support.servers import start_order, start_product

PICKUP_DEADLINE_S = 15.0  # the file is looked at about once a second


@dataclass
class Pair:
    product: product_grpc.ProductServiceStub
    order: order_grpc.OrderServiceStub
    token_file: Path


@pytest.fixture
def pair(
    jwks_file: Path, minter: Minter, make_database_url: Callable[[str], str], tmp_path: Path
) -> Iterator[Pair]:
    token_file = tmp_path / "order-service.token"
    # Start with a token the Product service accepts but that lacks stock:reserve.
    token_file.write_text(minter.token("order-service", audience=PRODUCT_AUDIENCE))
    product, _ = start_product(
        ProductSettings(
            listen_address="127.0.0.1:0", database_url=make_database_url("p"), **auth_settings(jwks_file)
        )
    )
    order, _ = start_order(
        OrderSettings(
            listen_address="127.0.0.1:0",
            database_url=make_database_url("o"),
            product_service_target=f"127.0.0.1:{product.port}",
            product_token_file=token_file,
            product_retry_max_attempts=2,
            **auth_settings(jwks_file),
        )
    )
    try:
        with (
            grpc.insecure_channel(f"127.0.0.1:{product.port}") as p,
            grpc.insecure_channel(f"127.0.0.1:{order.port}") as o,
        ):
            yield Pair(product_grpc.ProductServiceStub(p), order_grpc.OrderServiceStub(o), token_file)
    finally:
        order.stop(0)
        product.stop(0)


def _create(pair: Pair, minter: Minter, product_id: str, *customer_scopes: str) -> grpc.StatusCode:
    customer = str(uuid.uuid4())
    token = minter.token(customer, *customer_scopes)  # audience: both services
    request = order_pb.CreateOrderRequest(
        customer_id=customer, items=[order_pb.OrderLine(product_id=product_id, quantity=1)]
    )
    try:
        order: order_pb.Order = pair.order.CreateOrder(
            request, timeout=TIMEOUT_S, metadata=(("authorization", f"Bearer {token}"),)
        )
    except grpc.RpcError as error:
        assert isinstance(error, grpc.Call)
        return error.code()
    assert order.status == order_pb.ORDER_STATUS_CONFIRMED
    return grpc.StatusCode.OK


def test_the_customers_token_is_never_forwarded_and_a_new_service_token_is_picked_up(
    pair: Pair, minter: Minter
) -> None:
    product: product_pb.Product = pair.product.CreateProduct(
        product_pb.CreateProductRequest(name="Mug", price="9.50", stock_quantity=10),
        timeout=TIMEOUT_S,
        metadata=minter.staff("catalog:write"),
    )

    # The customer's token carries stock:reserve, yet the Order service reserves with its own token.
    assert _create(pair, minter, product.product_id, "stock:reserve") is grpc.StatusCode.UNAVAILABLE

    replacement = pair.token_file.with_name("token.new")
    write_service_token(replacement, minter)
    replacement.replace(pair.token_file)  # rotated in place, as a sidecar would
    wait_until(
        lambda: _create(pair, minter, product.product_id) is grpc.StatusCode.OK,
        PICKUP_DEADLINE_S,
        "the new service token picked up",
    )
