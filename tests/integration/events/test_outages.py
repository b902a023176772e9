"""A broker that is down, refuses or vanishes mid-publish never fails or holds up a call; what waited is
published once it is back (within 30 s with the default settings), across restarts; a service starts
and is ready without it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import grpc
import pytest

from common.generated.eshop.order.v1 import order_pb2 as opb
from common.generated.eshop.product.v1 import product_pb2 as pb
from tests.support.event_ledger import assert_delivered_exactly_what_committed, rows
from tests.support.event_services import publishing_servers
from tests.support.event_tap import EventTap
from tests.support.faults import READINESS, SERVING, health_status
from tests.support.helpers import create_product, new_id, order_request, wait_until
from tests.support.rabbitmq_broker import USER, PrivateRabbit
from tests.support.servers import Servers

pytestmark = pytest.mark.slow
# The contract: what waited is published within 30 s of the broker being back.
BACK_WITHIN_S = 30.0
# Every call of these tests has this deadline: a call waiting for the broker would exceed it.
CALL_TIMEOUT_S = 3.0


class Traffic:
    """Calls of both services in a loop (create orders, cancel every other, rename the product), each
    with a short deadline; every failure is kept."""

    def __init__(self, products: object, orders: object, product_id: str) -> None:
        self._products, self._orders, self._pid = products, orders, product_id
        self.failures: list[str] = []
        self.calls = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def wait_calls(self, more: int) -> None:
        target = self.calls + more
        wait_until(lambda: self.calls >= target, 30, f"{more} more calls")

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            n += 1
            try:
                order = self._orders.CreateOrder(  # type: ignore[attr-defined]
                    order_request(new_id(), (self._pid, 1)), timeout=CALL_TIMEOUT_S
                )
                if n % 2:
                    self._orders.CancelOrder(  # type: ignore[attr-defined]
                        opb.CancelOrderRequest(order_id=order.order_id), timeout=CALL_TIMEOUT_S
                    )
                self._products.UpdateProduct(  # type: ignore[attr-defined]
                    pb.UpdateProductRequest(product=pb.Product(product_id=self._pid, name=f"Lamp {n}")),
                    timeout=CALL_TIMEOUT_S,
                )
            except grpc.RpcError as error:
                self.failures.append(f"{error.code()}: {error.details()}")
            self.calls += 1


def _both(services: Servers) -> tuple[object, object, str, list[str]]:
    product_url, order_url = services.database_url("product"), services.database_url("order")
    product_server = services.product(database_url=product_url)
    order_server = services.order(product_server.port, database_url=order_url)
    products, orders = services.product_stub(product_server), services.order_stub(order_server)
    pid = create_product(products, stock=10_000, low_stock_threshold=0).product_id
    return products, orders, pid, [product_url, order_url]


def _all_delivered(tap: EventTap, database_urls: list[str]) -> bool:
    committed = {row.event_id for url in database_urls for row in rows(url)}
    return committed <= {m.message_id for m in tap.received()}


@pytest.fixture
def services_as_configured_by_default(
    make_database_url: Callable[[str], str], rabbitmq: PrivateRabbit, exchange: str
) -> Iterator[Servers]:
    """The events settings left at their defaults: the 30 s is promised for those, not the tests' fast
    ones (the reconnect backoff grows to its default cap while the broker is down)."""
    started = publishing_servers(make_database_url, rabbitmq.url, exchange, fast_events=False)
    try:
        yield started
    finally:
        started.close()


def test_calls_go_on_while_the_broker_is_down_and_what_waited_is_published_once_it_is_back(
    services_as_configured_by_default: Servers, tap: EventTap, rabbitmq: PrivateRabbit
) -> None:
    products, orders, pid, urls = _both(services_as_configured_by_default)
    with Traffic(products, orders, pid) as traffic:
        traffic.wait_calls(5)
        rabbitmq.stop_app()
        try:
            traffic.wait_calls(20)  # every one of them within its 3 s deadline, broker or not
        finally:
            rabbitmq.start_app()
        traffic.wait_calls(5)
    assert traffic.failures == []
    wait_until(
        lambda: _all_delivered(tap, urls), BACK_WITHIN_S, "every committed event, after the broker is back"
    )
    assert_delivered_exactly_what_committed(tap.received(), urls)


def test_a_broker_that_closes_connections_mid_publish_loses_nothing_and_keeps_the_order(
    services: Servers, tap: EventTap, rabbitmq: PrivateRabbit
) -> None:
    products, orders, pid, urls = _both(services)
    with Traffic(products, orders, pid) as traffic:
        for _ in range(5):
            traffic.wait_calls(4)
            rabbitmq.ctl("close_all_connections", "--vhost", "/", "--limit", "1000", "test: vanishing broker")
        traffic.wait_calls(4)
    assert traffic.failures == []
    wait_until(lambda: _all_delivered(tap, urls), BACK_WITHIN_S, "every committed event")
    assert_delivered_exactly_what_committed(tap.received(), urls)


def test_a_broker_that_refuses_holds_the_events_until_it_accepts_them(
    services: Servers, tap: EventTap, rabbitmq: PrivateRabbit
) -> None:
    products, orders, pid, urls = _both(services)
    rabbitmq.ctl("clear_permissions", "-p", "/", USER)
    try:
        rabbitmq.ctl("close_all_connections", "--vhost", "/", "--limit", "1000", "test: refused from now on")
        with Traffic(products, orders, pid) as traffic:
            traffic.wait_calls(10)
        assert traffic.failures == []
        assert any(not row.published for url in urls for row in rows(url))
    finally:
        rabbitmq.ctl("set_permissions", "-p", "/", USER, ".*", ".*", ".*")
    wait_until(lambda: _all_delivered(tap, urls), BACK_WITHIN_S, "every committed event, once accepted")
    assert_delivered_exactly_what_committed(tap.received(), urls)


def test_a_service_started_while_the_broker_is_away_serves_and_publishes_after_a_restart(
    services: Servers, tap: EventTap, rabbitmq: PrivateRabbit
) -> None:
    product_url = services.database_url("product")
    rabbitmq.stop_app()
    try:
        product_server = services.product(database_url=product_url)
        assert health_status(f"127.0.0.1:{product_server.port}", service=READINESS["product"]) == SERVING
        products = services.product_stub(product_server)
        pid = create_product(products, stock=5).product_id
        products.DeleteProduct(pb.DeleteProductRequest(product_id=pid), timeout=CALL_TIMEOUT_S)
        services.stop(product_server)  # with its events unpublished
    finally:
        rabbitmq.start_app()
    assert [row.published for row in rows(product_url)] == [False, False]

    services.product(database_url=product_url)

    wait_until(lambda: _all_delivered(tap, [product_url]), BACK_WITHIN_S, "the events of before the restart")
    assert_delivered_exactly_what_committed(tap.received(), [product_url])
