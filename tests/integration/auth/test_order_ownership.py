"""The per-customer rules of the Order service (AIP-211), the public methods, and how a refusal
looks on the wire and in the log."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from loguru import logger

from common.generated.eshop.order.v1 import order_pb2 as order_pb
from common.generated.eshop.product.v1 import product_pb2 as product_pb
from tests.support.auth import TIMEOUT_S, AuthedServices, new_customer


def _refusal(call: object) -> grpc.Call:
    assert callable(call)
    with pytest.raises(grpc.RpcError) as raised:
        call()
    assert isinstance(raised.value, grpc.Call)
    return raised.value


def test_list_orders_without_a_filter_shows_only_the_callers_own(authed: AuthedServices) -> None:
    me, other = new_customer(), new_customer()
    product_id = authed.new_product()
    mine = {authed.new_order(me, product_id).order_id for _ in range(2)}
    authed.new_order(other, product_id)

    page: order_pb.ListOrdersResponse = authed.order.ListOrders(
        order_pb.ListOrdersRequest(page_size=100), timeout=TIMEOUT_S, metadata=authed.minter.customer(me)
    )

    assert {order.order_id for order in page.orders} == mine


def test_orders_admin_lists_every_customers_orders(authed: AuthedServices) -> None:
    one, two = new_customer(), new_customer()
    product_id = authed.new_product()
    expected = {authed.new_order(one, product_id).order_id, authed.new_order(two, product_id).order_id}

    page: order_pb.ListOrdersResponse = authed.order.ListOrders(
        order_pb.ListOrdersRequest(page_size=1000),
        timeout=TIMEOUT_S,
        metadata=authed.minter.staff("orders:admin"),
    )

    assert expected <= {order.order_id for order in page.orders}


@pytest.mark.parametrize("method", ["GetOrder", "CancelOrder"])
def test_another_customers_order_and_a_missing_one_look_the_same(authed: AuthedServices, method: str) -> None:
    """AIP-211: PERMISSION_DENIED whether or not the order exists, so order ids cannot be probed."""
    caller = authed.minter.customer(new_customer())
    existing = authed.new_order(new_customer(), authed.new_product()).order_id
    missing = str(uuid.uuid4())

    def ask(order_id: str) -> grpc.Call:
        if method == "GetOrder":
            request: object = order_pb.GetOrderRequest(order_id=order_id)
        else:
            request = order_pb.CancelOrderRequest(order_id=order_id)
        stub_method = getattr(authed.order, method)
        return _refusal(lambda: stub_method(request, timeout=TIMEOUT_S, metadata=caller))

    for_existing, for_missing = ask(existing), ask(missing)

    assert for_existing.code() is for_missing.code() is grpc.StatusCode.PERMISSION_DENIED
    assert existing in for_existing.details() and missing in for_missing.details()  # it names what was asked
    assert for_existing.details().replace(existing, "ID") == for_missing.details().replace(missing, "ID")


def test_a_customer_places_orders_for_itself_only(authed: AuthedServices) -> None:
    me, other = new_customer(), new_customer()
    product_id = authed.new_product(stock=5)
    request = order_pb.CreateOrderRequest(
        customer_id=other, items=[order_pb.OrderLine(product_id=product_id, quantity=2)]
    )

    refused = _refusal(
        lambda: authed.order.CreateOrder(request, timeout=TIMEOUT_S, metadata=authed.minter.customer(me))
    )

    assert refused.code() is grpc.StatusCode.PERMISSION_DENIED
    page: order_pb.ListOrdersResponse = authed.order.ListOrders(
        order_pb.ListOrdersRequest(customer_id=other),
        timeout=TIMEOUT_S,
        metadata=authed.minter.staff("orders:admin"),
    )
    assert list(page.orders) == []
    product: product_pb.Product = authed.product.GetProduct(
        product_pb.GetProductRequest(product_id=product_id),
        timeout=TIMEOUT_S,
        metadata=authed.minter.customer(me),
    )
    assert product.stock_quantity == 5


def test_request_ids_are_each_customers_own(authed: AuthedServices) -> None:
    """A customer can neither learn that another's request id is taken nor squat it: the same id from
    another customer is a new order of that customer's."""
    owner, other = new_customer(), new_customer()
    product_id = authed.new_product()
    request_id = str(uuid.uuid4())

    def create(customer_id: str) -> order_pb.Order:
        order: order_pb.Order = authed.order.CreateOrder(
            order_pb.CreateOrderRequest(
                customer_id=customer_id,
                items=[order_pb.OrderLine(product_id=product_id, quantity=1)],
                request_id=request_id,
            ),
            timeout=TIMEOUT_S,
            metadata=authed.minter.customer(customer_id),
        )
        return order

    owners = create(owner)
    others = create(other)

    assert others.customer_id == other and others.order_id != owners.order_id
    assert others.status == order_pb.ORDER_STATUS_CONFIRMED
    assert create(owner) == owners and create(other) == others  # each one's retry gets its own order


def test_a_caller_whose_subject_is_no_customer_id_lists_no_orders(authed: AuthedServices) -> None:
    authed.new_order(new_customer(), authed.new_product())

    page: order_pb.ListOrdersResponse = authed.order.ListOrders(
        order_pb.ListOrdersRequest(page_size=100),
        timeout=TIMEOUT_S,
        metadata=authed.minter.customer("kiosk-7"),
    )

    assert list(page.orders) == [] and page.next_page_token == ""


def test_orders_admin_is_told_a_missing_order_is_not_found(authed: AuthedServices) -> None:
    refused = _refusal(
        lambda: authed.order.GetOrder(
            order_pb.GetOrderRequest(order_id=str(uuid.uuid4())),
            timeout=TIMEOUT_S,
            metadata=authed.minter.staff("orders:admin"),
        )
    )

    assert refused.code() is grpc.StatusCode.NOT_FOUND


def test_a_cancelled_order_of_another_customer_keeps_its_stock_out(authed: AuthedServices) -> None:
    owner, intruder = new_customer(), new_customer()
    product_id = authed.new_product(stock=5)
    order = authed.new_order(owner, product_id, quantity=2)

    _refusal(
        lambda: authed.order.CancelOrder(
            order_pb.CancelOrderRequest(order_id=order.order_id),
            timeout=TIMEOUT_S,
            metadata=authed.minter.customer(intruder),
        )
    )

    product: product_pb.Product = authed.product.GetProduct(
        product_pb.GetProductRequest(product_id=product_id),
        timeout=TIMEOUT_S,
        metadata=authed.minter.customer(owner),
    )
    assert product.stock_quantity == 3
    still: order_pb.Order = authed.order.GetOrder(
        order_pb.GetOrderRequest(order_id=order.order_id),
        timeout=TIMEOUT_S,
        metadata=authed.minter.customer(owner),
    )
    assert still.status == order_pb.ORDER_STATUS_CONFIRMED


@pytest.mark.parametrize("service", ["product", "order"])
def test_health_needs_no_token(authed: AuthedServices, service: str) -> None:
    server = authed.product_server if service == "product" else authed.order_server
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        answer = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=""), timeout=TIMEOUT_S
        )
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


def test_a_refusal_carries_the_callers_correlation_id(authed: AuthedServices) -> None:
    refused = _refusal(
        lambda: authed.product.ListProducts(
            product_pb.ListProductsRequest(),
            timeout=TIMEOUT_S,
            metadata=(("x-correlation-id", "auth-refusal-1"),),
        )
    )

    assert refused.code() is grpc.StatusCode.UNAUTHENTICATED
    assert ("x-correlation-id", "auth-refusal-1") in tuple(refused.trailing_metadata() or ())


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    lines: list[str] = []
    sink = logger.add(
        lambda message: lines.append(str(message)), format="{level} {message} {extra}", level="DEBUG"
    )
    try:
        yield lines
    finally:
        logger.remove(sink)
        sys.stderr.flush()


def test_a_refusal_is_logged_once_with_the_subject_and_as_a_call_never_with_the_token(
    authed: AuthedServices, log_lines: list[str]
) -> None:
    token = authed.minter.token("customer-who-tried", audience="eshop-product")
    correlation_id = f"refusal-{uuid.uuid4()}"

    _refusal(
        lambda: authed.product.RestockProduct(
            product_pb.RestockProductRequest(product_id=str(uuid.uuid4()), quantity=1),
            timeout=TIMEOUT_S,
            metadata=(("authorization", f"Bearer {token}"), ("x-correlation-id", correlation_id)),
        )
    )

    about_it = [line for line in log_lines if correlation_id in line]
    refusals = [line for line in about_it if "customer-who-tried" in line]
    assert len(refusals) == 1, about_it
    assert "PERMISSION_DENIED" in refusals[0] and "needs scope 'catalog:write'" in refusals[0]
    calls = [
        line
        for line in about_it
        if line.startswith("INFO rpc /eshop.product.v1.ProductService/RestockProduct")
    ]
    assert len(calls) == 1 and "PERMISSION_DENIED" in calls[0], about_it  # and as a call, like any other
    assert all(token not in line and token.split(".")[2] not in line for line in log_lines)


def test_a_refusal_the_order_service_makes_is_logged_with_the_subject(
    authed: AuthedServices, log_lines: list[str]
) -> None:
    intruder = new_customer()
    order_id = authed.new_order(new_customer(), authed.new_product()).order_id
    correlation_id = f"refusal-{uuid.uuid4()}"

    _refusal(
        lambda: authed.order.GetOrder(
            order_pb.GetOrderRequest(order_id=order_id),
            timeout=TIMEOUT_S,
            metadata=(*authed.minter.customer(intruder), ("x-correlation-id", correlation_id)),
        )
    )

    about_it = [line for line in log_lines if correlation_id in line]
    refusals = [line for line in about_it if intruder in line and "PERMISSION_DENIED" in line]
    assert len(refusals) == 1, about_it
