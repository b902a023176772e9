"""Prometheus metrics, scraped over HTTP from both services and parsed with prometheus_client's parser:
a known sequence of calls moves the counters by exactly what it should."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import grpc
import pytest

from common.generated.eshop.order.v1 import order_pb2
from common.generated.eshop.order.v1 import order_pb2_grpc as order_grpc
from common.generated.eshop.product.v1 import product_pb2
from common.generated.eshop.product.v1 import product_pb2_grpc as product_grpc
from product.application.outcomes import CATALOGUE_OPERATIONS, CATALOGUE_RESULTS
from tests.support.backend import backend
from tests.support.helpers import create_product, new_id, order_request
from tests.support.metered_pair import MeteredPair
from tests.support.prometheus_scrape import Scrape, scrape_until

CREATE = "eshop.order.v1.OrderService/CreateOrder"
RESERVE = "eshop.product.v1.ProductService/ReserveStock"
CATALOGUE_CHANGES = [(op, result) for op in CATALOGUE_OPERATIONS for result in CATALOGUE_RESULTS]


def test_counters_move_by_exactly_what_the_calls_did(pair: MeteredPair) -> None:
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
    assert after_product.value("target_info") == 1
    _check_what_the_rules_read(pair, (before_order, after), (before_product, after_product))


def _check_what_the_rules_read(
    pair: MeteredPair, order: tuple[Scrape, Scrape], product: tuple[Scrape, Scrape]
) -> None:
    """The counters the alert rules read: logical calls on the client (with gRPC's canonical target),
    retries and failures on the server (UNAVAILABLE is a failure, NOT_FOUND an answer); the gauges."""

    def delta(name: str, scrapes: tuple[Scrape, Scrape], **labels: str) -> float:
        return scrapes[1].total(name, **labels) - scrapes[0].total(name, **labels)

    after, after_product = order[1], product[1]
    target = f"dns:///127.0.0.1:{pair.product.port}"
    assert delta("eshop_grpc_client_calls_total", order, grpc_method=RESERVE) == 4
    [calls] = after.matching("eshop_grpc_client_calls_total", grpc_method=RESERVE)
    assert calls.labels["grpc_target"] == target
    durations = after.matching("grpc_client_call_duration_seconds_count")
    assert {s.labels["grpc_target"] for s in durations} == {target}
    assert delta("eshop_grpc_server_retries_total", product, grpc_method=RESERVE) == 2
    assert delta("eshop_grpc_server_failures_total", product, grpc_method=RESERVE) == 2
    assert delta("eshop_grpc_server_failures_total", order) == 0
    assert after.value("eshop_db_ready") == after_product.value("eshop_db_ready") == 1
    assert after.value("eshop_orders_pending_oldest_age_seconds") == 0


def test_an_order_given_up_on_an_unreachable_product_service_is_counted_as_such(pair: MeteredPair) -> None:
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
        failed = {"grpc_method": CREATE, "grpc_status": "UNAVAILABLE"}
        failures = "eshop_grpc_server_failures_total"
        # The call's status is sent before the interceptor around it records it: until it has.
        after = scrape_until(
            pair.order.metrics_address or "",
            lambda scraped: scraped.value(failures, **failed) > before.value(failures, **failed),
        )

    assert raised.value.code() is grpc.StatusCode.UNAVAILABLE
    rejected = {"outcome": "rejected", "reason": "product_unavailable"}
    assert after.total("eshop_orders_total", **rejected) - before.total("eshop_orders_total", **rejected) == 1
    assert after.value(failures, **failed) - before.value(failures, **failed) == 1
    assert after.total("eshop_orders_total", outcome="confirmed") == before.total(
        "eshop_orders_total", outcome="confirmed"
    )


PRODUCT_METHODS = [
    f"eshop.product.v1.ProductService/{m}"
    for m in (
        "CreateProduct", "GetProduct", "ListProducts", "BatchGetProducts", "RestockProduct",
        "ReserveStock", "ReleaseStock", "GetReservation", "UpdateProduct", "DeleteProduct",
        "UndeleteProduct",
    )
]  # fmt: skip
ORDER_METHODS = [
    f"eshop.order.v1.OrderService/{m}" for m in ("CreateOrder", "CancelOrder", "GetOrder", "ListOrders")
]
HEALTH_METHODS = ["grpc.health.v1.Health/Check", "grpc.health.v1.Health/List"]
FAILURE_CODES = ["UNKNOWN", "DEADLINE_EXCEEDED", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS"]
REJECTION_REASONS = ["insufficient_stock", "unknown_product", "conflict", "product_unavailable", "abandoned"]
PROCESS_METRICS = [
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
    "process_open_fds",
    "process_start_time_seconds",
]
LabelSets = set[tuple[tuple[str, str], ...]]


def _label_sets(scraped: Scrape, name: str) -> LabelSets:
    return {tuple(sorted(s.labels.items())) for s in scraped.matching(name)}


def _every(**columns: list[str]) -> LabelSets:
    """Every combination of the columns' values, as sorted label tuples."""
    names = list(columns)
    return {tuple(sorted(zip(names, values, strict=True))) for values in itertools.product(*columns.values())}


def _expected_order_counters(product_target: str) -> dict[str, LabelSets]:
    methods = ORDER_METHODS + HEALTH_METHODS
    return {
        "eshop_orders_total": _every(outcome=["confirmed", "cancelled"], reason=[""])
        | _every(outcome=["rejected"], reason=REJECTION_REASONS),
        "eshop_outbox_deliveries_total": _every(result=["acknowledged", "failed"]),
        "eshop_reconciler_resolutions_total": _every(
            result=["confirmed", "rejected", "deferred", "lost_race"]
        ),
        # Exported with no broker configured too (these services have none).
        "eshop_events_published_total": _every(
            type=[f"eshop.order.v1.{m}" for m in ("OrderConfirmed", "OrderRejected", "OrderCancelled")]
        ),
        "grpc_server_call_started_total": _every(grpc_method=methods),
        "eshop_grpc_server_retries_total": _every(grpc_method=methods),
        "eshop_grpc_server_failures_total": _every(grpc_method=methods, grpc_status=FAILURE_CODES),
        "eshop_grpc_client_calls_total": _every(grpc_method=PRODUCT_METHODS, grpc_target=[product_target]),
    }


def _expected_product_counters() -> dict[str, LabelSets]:
    methods = PRODUCT_METHODS + HEALTH_METHODS
    return {
        "eshop_stock_reservations_total": _every(
            result=["reserved", "insufficient_stock", "unknown_product", "replayed"]
        ),
        "eshop_stock_units_reserved_total": {()},
        "eshop_catalogue_changes_total": _every(
            operation=["update", "delete", "undelete"],
            result=["changed", "stale_etag", "not_found", "failed_precondition"],
        ),
        "eshop_stock_units_released_total": {()},
        "eshop_events_published_total": _every(
            type=[
                f"eshop.product.v1.{m}"
                for m in ("ProductCreated", "ProductUpdated", "ProductDeleted", "StockLow")
            ]
        ),
        "grpc_server_call_started_total": _every(grpc_method=methods),
        "eshop_grpc_server_retries_total": _every(grpc_method=methods),
        "eshop_grpc_server_failures_total": _every(grpc_method=methods, grpc_status=FAILURE_CODES),
    }


def test_every_counter_is_exported_from_start_up_at_zero_with_every_known_label_value(
    pair: MeteredPair,
) -> None:
    """Before any call: a series that appeared only with its first event would show that event to no
    rate() or increase(). Every counter sample reads 0, and each counter has every known label value."""
    expected_order = _expected_order_counters(f"dns:///127.0.0.1:{pair.product.port}")
    for scraped, expected in (
        (pair.order_metrics(), expected_order),
        (pair.product_metrics(), _expected_product_counters()),
    ):
        for name, label_sets in expected.items():
            assert _label_sets(scraped, name) == label_sets, name
        counters = {f"{family}_total" for family, kind in scraped.families.items() if kind == "counter"}
        # Every counter the service exports is one of those, and all of them read 0
        # (process_cpu_seconds_total excepted: the process has run).
        assert counters - {"process_cpu_seconds_total"} == set(expected), counters
        assert [s for s in scraped.samples if s.name in expected and s.value != 0] == []
        for name in PROCESS_METRICS:
            assert scraped.value(name) > 0, name
        # One instrumentation scope for everything: no otel_scope_* labels repeating it on every series.
        assert not [s for s in scraped.samples if any(k.startswith("otel_scope") for k in s.labels)]
        # The pool gauge only where it means something: SQLite runs its transactions on the event loop,
        # one at a time, so a scrape would nearly always read 0.
        pool = scraped.matching("eshop_db_pool_connections_in_use")
        assert len(pool) == (1 if backend() == "postgres" else 0)


def test_catalogue_changes_are_counted_by_operation_and_result(pair: MeteredPair) -> None:
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


def test_the_event_gauges_are_exported_at_zero_with_no_broker_configured(pair: MeteredPair) -> None:
    """A dashboard or alert on the event backlog reads 0 from a service that publishes nothing, rather
    than no series at all (these services have no broker configured)."""
    for server in (pair.product, pair.order):
        assert server.metrics_address is not None
        scraped = scrape_until(
            server.metrics_address,
            lambda s: {"eshop_events_pending", "eshop_events_oldest_age_seconds"} <= s.names(),
        )
        assert scraped.value("eshop_events_pending") == 0
        assert scraped.value("eshop_events_oldest_age_seconds") == 0
