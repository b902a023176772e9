"""Every refusal is counted: at the door (no token, a token without the scope) and in a handler (another
customer's order), in ``eshop_auth_refusals_total{grpc_method, grpc_status}`` scraped from /metrics."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest

from common.generated.eshop.order.v1 import order_pb2 as order_pb
from common.generated.eshop.order.v1 import order_pb2_grpc as order_grpc
from common.generated.eshop.product.v1 import product_pb2 as product_pb
from common.generated.eshop.product.v1 import product_pb2_grpc as product_grpc
from tests.support.auth import (
    TIMEOUT_S,
    Minter,
    auth_settings,
    bearer,
    new_customer,
    write_service_token,
)
from tests.support.helpers import new_id
from tests.support.metered_pair import MeteredPair, metered_pair

REFUSALS = "eshop_auth_refusals_total"


@pytest.fixture
def pair(
    make_database_url: Callable[[str], str], jwks_file: Path, minter: Minter, tmp_path: Path
) -> Iterator[MeteredPair]:
    token = write_service_token(tmp_path / "token", minter)
    with metered_pair(make_database_url, auth_settings(jwks_file), {"product_token_file": token}) as running:
        yield running


def _refused(call: Callable[[], object]) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as raised:
        call()
    code: grpc.StatusCode = raised.value.code()
    return code


def test_every_refusal_is_counted_by_method_and_status(pair: MeteredPair, minter: Minter) -> None:
    with (
        grpc.insecure_channel(f"127.0.0.1:{pair.product.port}") as product_channel,
        grpc.insecure_channel(f"127.0.0.1:{pair.order.port}") as order_channel,
    ):
        products = product_grpc.ProductServiceStub(product_channel)
        orders = order_grpc.OrderServiceStub(order_channel)
        get = product_pb.GetProductRequest(product_id=new_id())
        create = product_pb.CreateProductRequest(name="Mug", price="9.50", stock_quantity=1)
        someone_elses = order_pb.GetOrderRequest(order_id=new_id())

        for _ in range(2):
            assert (
                _refused(lambda: products.GetProduct(get, timeout=TIMEOUT_S))
                is grpc.StatusCode.UNAUTHENTICATED
            )
        customer = minter.customer(new_customer())
        assert (
            _refused(lambda: products.CreateProduct(create, timeout=TIMEOUT_S, metadata=customer))
            is grpc.StatusCode.PERMISSION_DENIED
        )
        assert (
            _refused(lambda: orders.GetOrder(someone_elses, timeout=TIMEOUT_S, metadata=customer))
            is grpc.StatusCode.PERMISSION_DENIED
        )

    at_product, at_order = pair.product_metrics(), pair.order_metrics()
    product_service, order_service = "eshop.product.v1.ProductService", "eshop.order.v1.OrderService"
    assert (
        at_product.value(REFUSALS, grpc_method=f"{product_service}/GetProduct", grpc_status="UNAUTHENTICATED")
        == 2
    )
    assert (
        at_product.value(
            REFUSALS, grpc_method=f"{product_service}/CreateProduct", grpc_status="PERMISSION_DENIED"
        )
        == 1
    )
    # Refused by the handler (the order is not this customer's, or does not exist: AIP-211).
    assert (
        at_order.value(REFUSALS, grpc_method=f"{order_service}/GetOrder", grpc_status="PERMISSION_DENIED")
        == 1
    )
    assert at_product.total(REFUSALS) == 3


def test_a_token_the_verifier_cannot_represent_is_an_unauthenticated_refusal_and_counted(
    pair: MeteredPair, minter: Minter
) -> None:
    """An exp of 400 digits once escaped as an OverflowError: INTERNAL, a traceback, and no count."""
    unrepresentable = [minter.token("staff-1", exp=10**400), minter.token("staff-1", exp="4102444800")]
    with grpc.insecure_channel(f"127.0.0.1:{pair.product.port}") as channel:
        products = product_grpc.ProductServiceStub(channel)
        for token in unrepresentable:
            with pytest.raises(grpc.RpcError) as raised:
                products.ListProducts(
                    product_pb.ListProductsRequest(), timeout=TIMEOUT_S, metadata=bearer(token)
                )
            assert raised.value.code() is grpc.StatusCode.UNAUTHENTICATED
            assert raised.value.details().startswith("malformed token")

    assert (
        pair.product_metrics().value(
            REFUSALS,
            grpc_method="eshop.product.v1.ProductService/ListProducts",
            grpc_status="UNAUTHENTICATED",
        )
        == 2
    )


def test_refusals_are_exported_from_start_up_at_zero_for_every_method_and_code(
    pair: MeteredPair,
) -> None:
    """The first refusal of a method shows in rate() and increase() only if its series was there
    before it: every method of each service, with both codes, at 0 before any call."""
    product_methods = {
        f"eshop.product.v1.ProductService/{name}"
        for name in product_pb.DESCRIPTOR.services_by_name["ProductService"].methods_by_name
    }
    order_methods = {
        f"eshop.order.v1.OrderService/{name}"
        for name in order_pb.DESCRIPTOR.services_by_name["OrderService"].methods_by_name
    }
    for scraped, methods in ((pair.product_metrics, product_methods), (pair.order_metrics, order_methods)):
        samples = scraped().matching(REFUSALS)
        assert {(s.labels["grpc_method"], s.labels["grpc_status"]) for s in samples} == {
            (method, code) for method in methods for code in ("UNAUTHENTICATED", "PERMISSION_DENIED")
        }
        assert {s.value for s in samples} == {0}
