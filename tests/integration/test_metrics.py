"""Prometheus metrics, scraped over HTTP from both services and parsed with prometheus_client's parser:
a known sequence of calls moves the counters by exactly what it should."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import grpc
import pytest

from common.generated.eshop.order.v1 import order_pb2
from common.generated.eshop.order.v1 import order_pb2_grpc as order_grpc
from common.generated.eshop.product.v1 import product_pb2
from common.generated.eshop.product.v1 import product_pb2_grpc as product_grpc
from common.grpc.server import RunningServer
from order.container import OrderContainer
from order.server import start as start_order
from order.settings import OrderSettings
from product.application.outcomes import CATALOGUE_OPERATIONS, CATALOGUE_RESULTS
from product.container import ProductContainer
from product.server import start as start_product
from product.settings import ProductSettings
from tests.integration.helpers import create_product, new_id, order_request
from tests.integration.order.interceptors import FailReserve
from tests.prometheus_scrape import Scrape, scrape, scrape_until

CREATE = "eshop.order.v1.OrderService/CreateOrder"
RESERVE = "eshop.product.v1.ProductService/ReserveStock"
CATALOGUE_CHANGES = [(op, result) for op in CATALOGUE_OPERATIONS for result in CATALOGUE_RESULTS]


@dataclass
class Pair:
    product: RunningServer
    order: RunningServer
    order_container: OrderContainer
    product_container: ProductContainer
    fail_reserve: FailReserve

    def product_metrics(self) -> Scrape:
        assert self.product.metrics_address is not None
        return scrape(self.product.metrics_address)

    def order_metrics(self) -> Scrape:
        assert self.order.metrics_address is not None
        return scrape(self.order.metrics_address)


@pytest.fixture
def pair(make_database_url: Callable[[str], str]) -> Iterator[Pair]:
    fail_reserve = FailReserve(failures=0)
    product, product_container = start_product(
        ProductSettings(
            listen_address="127.0.0.1:0",
            database_url=make_database_url("product"),
            metrics_address="127.0.0.1:0",
            shutdown_grace_s=0,
        ),
        inner_interceptors=(fail_reserve,),
    )
    try:
        order, container = start_order(
            OrderSettings(
                listen_address="127.0.0.1:0",
                database_url=make_database_url("order"),
                product_service_target=f"127.0.0.1:{product.port}",
                metrics_address="127.0.0.1:0",
                shutdown_grace_s=0,
                outbox_poll_interval_s=0.05,
            )
        )
        try:
            yield Pair(product, order, container, product_container, fail_reserve)
        finally:
            order.stop(0)
    finally:
        product.stop(0)


def test_counters_move_by_exactly_what_the_calls_did(pair: Pair) -> None:
    with (
        grpc.insecure_channel(f"127.0.0.1:{pair.product.port}") as product_channel,
        grpc.insecure_channel(f"127.0.0.1:{pair.order.port}") as order_channel,
    ):
        products = product_grpc.ProductServiceStub(product_channel)
        orders = order_grpc.OrderServiceStub(order_channel)
        product_id = create_product(products, stock=5).product_id
        before_order, before_product = pair.order_metrics(), pair.product_metrics()

        def create(quantity: int) -> order_pb2.Order:
            request = order_request(new_id(), (product_id, quantity), request_id=new_id())
            created: order_pb2.Order = orders.CreateOrder(request, timeout=10)
            return created

        first, _second = create(1), create(2)
        assert create(10).status == order_pb2.ORDER_STATUS_REJECTED  # insufficient stock
        orders.CancelOrder(order_pb2.CancelOrderRequest(order_id=first.order_id), timeout=10)
        with pytest.raises(grpc.RpcError):
            orders.GetOrder(order_pb2.GetOrderRequest(order_id=new_id()), timeout=10)
        pair.fail_reserve.failures = pair.fail_reserve.attempts + 2  # the next call: 2 UNAVAILABLE, then OK
        assert create(1).status == order_pb2.ORDER_STATUS_CONFIRMED

        # Gauges are refreshed in the background every 5 s; here, on demand (the release may still be
        # on its way if the cancellation's immediate attempt did not finish in its budget).
        def outbox_drained(scraped: Scrape) -> bool:
            pair.order.call(pair.order_container.order_gauges().refresh())
            return scraped.value_or(-1, "eshop_outbox_pending") == 0

        after = scrape_until(pair.order.metrics_address or "", outbox_drained, timeout=20)
        after = pair.order_metrics()
        pair.product.call(pair.product_container.product_gauges().refresh())
        after_product = pair.product_metrics()

    def delta(name: str, now: Scrape, then: Scrape, **labels: str) -> float:
        return now.total(name, **labels) - then.total(name, **labels)

    assert delta("eshop_orders_total", after, before_order, outcome="confirmed") == 3
    assert (
        delta("eshop_orders_total", after, before_order, outcome="rejected", reason="insufficient_stock") == 1
    )
    assert delta("eshop_orders_total", after, before_order, outcome="cancelled") == 1
    assert delta("eshop_outbox_deliveries_total", after, before_order, result="acknowledged") == 1
    assert after.value("eshop_outbox_pending") == 0
    assert after.value("eshop_outbox_oldest_age_seconds") == 0
    assert after.value("eshop_orders_pending") == 0
    # gRFC A66 names: one histogram sample per call, by method and status.
    server_count = "grpc_server_call_duration_seconds_count"
    assert delta(server_count, after, before_order, grpc_method=CREATE, grpc_status="OK") == 4
    assert (
        delta(
            server_count,
            after,
            before_order,
            grpc_method="eshop.order.v1.OrderService/GetOrder",
            grpc_status="NOT_FOUND",
        )
        == 1
    )
    assert delta("grpc_server_call_started_total", after, before_order, grpc_method=CREATE) == 4
    # Retries: the Order service made 4 ReserveStock calls; the Product service saw 6 attempts.
    client_calls = delta("grpc_client_call_duration_seconds_count", after, before_order, grpc_method=RESERVE)
    attempts = delta("grpc_server_call_started_total", after_product, before_product, grpc_method=RESERVE)
    assert (client_calls, attempts) == (4, 6)
    assert (
        delta(server_count, after_product, before_product, grpc_method=RESERVE, grpc_status="UNAVAILABLE")
        == 2
    )
    assert after.families["grpc_server_call_duration_seconds"] == "histogram"
    # The Product side: reservations by result, units, the low-stock gauge (5 - 1 - 2 + 1 - 1 = 2 <= 2).
    reservations = "eshop_stock_reservations_total"
    assert delta(reservations, after_product, before_product, result="reserved") == 3
    assert delta(reservations, after_product, before_product, result="insufficient_stock") == 1
    assert delta("eshop_stock_units_reserved_total", after_product, before_product) == 4
    assert delta("eshop_stock_units_released_total", after_product, before_product) == 1
    assert after_product.value("eshop_products_low_stock") == 1
    assert after.value("eshop_db_pool_connections_in_use") >= 0
    assert after_product.value("target_info") == 1


def test_an_order_given_up_on_an_unreachable_product_service_is_counted_as_such(pair: Pair) -> None:
    pair.fail_reserve.failures = None  # every ReserveStock attempt: UNAVAILABLE
    with (
        grpc.insecure_channel(f"127.0.0.1:{pair.product.port}") as product_channel,
        grpc.insecure_channel(f"127.0.0.1:{pair.order.port}") as order_channel,
    ):
        product_id = create_product(product_grpc.ProductServiceStub(product_channel), stock=5).product_id
        before = pair.order_metrics()
        with pytest.raises(grpc.RpcError) as raised:
            order_grpc.OrderServiceStub(order_channel).CreateOrder(
                order_request(new_id(), (product_id, 1), request_id=new_id()), timeout=10
            )
        after = pair.order_metrics()

    assert raised.value.code() is grpc.StatusCode.UNAVAILABLE
    rejected = {"outcome": "rejected", "reason": "product_unavailable"}
    assert after.total("eshop_orders_total", **rejected) - before.total("eshop_orders_total", **rejected) == 1
    assert after.total("eshop_orders_total", outcome="confirmed") == before.total(
        "eshop_orders_total", outcome="confirmed"
    )


def test_catalogue_changes_are_counted_by_operation_and_result(pair: Pair) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{pair.product.port}") as channel:
        products = product_grpc.ProductServiceStub(channel)
        created = create_product(products)
        before = pair.product_metrics()

        def refused(call: Callable[[], object]) -> None:
            with pytest.raises(grpc.RpcError):
                call()

        rename = product_pb2.Product(product_id=created.product_id, name="Cup")
        products.UpdateProduct(product_pb2.UpdateProductRequest(product=rename), timeout=10)
        stale = product_pb2.Product(product_id=created.product_id, name="Bowl", etag=created.etag)
        refused(lambda: products.UpdateProduct(product_pb2.UpdateProductRequest(product=stale), timeout=10))
        refused(
            lambda: products.UndeleteProduct(
                product_pb2.UndeleteProductRequest(product_id=created.product_id)
            )
        )
        refused(
            lambda: products.DeleteProduct(product_pb2.DeleteProductRequest(product_id=new_id()), timeout=10)
        )
        products.DeleteProduct(product_pb2.DeleteProductRequest(product_id=created.product_id), timeout=10)
        refused(
            lambda: products.DeleteProduct(product_pb2.DeleteProductRequest(product_id=created.product_id))
        )
        products.UndeleteProduct(
            product_pb2.UndeleteProductRequest(product_id=created.product_id), timeout=10
        )
        after = pair.product_metrics()

    def delta(operation: str, result: str) -> float:
        name, labels = "eshop_catalogue_changes_total", {"operation": operation, "result": result}
        return after.total(name, **labels) - before.total(name, **labels)

    assert {(op, result): delta(op, result) for op, result in CATALOGUE_CHANGES if delta(op, result)} == {
        ("update", "changed"): 1,
        ("update", "stale_etag"): 1,
        ("undelete", "failed_precondition"): 1,
        ("delete", "not_found"): 1,
        ("delete", "changed"): 1,
        ("delete", "failed_precondition"): 1,
        ("undelete", "changed"): 1,
    }
