"""The scrape helper against prometheus_client's own HTTP server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from tests.support.ports import free_address
from tests.support.prometheus_scrape import Scrape, scrape, scrape_until


@pytest.fixture
def served() -> Iterator[tuple[str, CollectorRegistry]]:
    registry = CollectorRegistry()
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    try:
        yield f"127.0.0.1:{server.server_port}", registry
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_samples_are_read_by_name_and_labels(served: tuple[str, CollectorRegistry]) -> None:
    address, registry = served
    orders = Counter("eshop_orders", "orders by outcome", ["outcome"], registry=registry)
    orders.labels("confirmed").inc(2)
    orders.labels("rejected").inc()
    calls = Histogram(
        "grpc_server_call_duration_seconds", "", ["grpc_method", "grpc_status"], registry=registry
    )
    calls.labels("eshop.order.v1.OrderService/CreateOrder", "OK").observe(0.003)
    Gauge("eshop_outbox_pending", "releases waiting", registry=registry).set(0)

    result = scrape(address)

    assert result.families["eshop_orders"] == "counter"
    assert result.value("eshop_orders_total", outcome="confirmed") == 2
    assert result.total("eshop_orders_total") == 3
    assert result.value_or(0, "eshop_orders_total", outcome="cancelled") == 0
    method = "eshop.order.v1.OrderService/CreateOrder"
    assert result.value("grpc_server_call_duration_seconds_count", grpc_method=method, grpc_status="OK") == 1
    assert result.value("grpc_server_call_duration_seconds_bucket", grpc_method=method, le="0.005") == 1
    assert result.value("eshop_outbox_pending") == 0
    with pytest.raises(AssertionError, match="2 samples"):
        result.value("eshop_orders_total")


def test_scrape_until_waits_for_a_value_and_reports_what_it_saw(
    served: tuple[str, CollectorRegistry],
) -> None:
    address, registry = served
    Gauge("eshop_orders_pending", "", registry=registry).set(3)

    assert (
        scrape_until(address, lambda s: s.value("eshop_orders_pending") == 3).value("eshop_orders_pending")
        == 3
    )
    with pytest.raises(AssertionError, match="eshop_orders_pending"):
        scrape_until(address, lambda s: s.value("eshop_orders_pending") == 0, timeout=0.2)


def test_nothing_listening_is_an_error_not_an_empty_scrape() -> None:
    with pytest.raises(OSError):
        scrape_until(free_address(), lambda s: True, timeout=0.2)


def test_text_is_parsed_as_prometheus_would() -> None:
    text = '# TYPE x_total counter\nx_total{a="1"} 4.0\n'
    assert Scrape.parse(text).value("x_total", a="1") == 4
