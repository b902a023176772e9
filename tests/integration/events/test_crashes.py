"""SIGKILL either service while orders and catalogue changes pour in, bring it back: once the system is
quiet, every committed change has its event delivered (at least once; deduplicated by message id),
in commit order per order and product, and no event exists for a change that did not commit."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest

from common.generated.eshop.product.v1 import product_pb2 as pb
from tests.support.event_ledger import (
    assert_delivered_exactly_what_committed,
    first_deliveries,
    rows,
    wait_all_published,
)
from tests.support.event_services import FAST_EVENTS
from tests.support.event_tap import EventTap
from tests.support.faults import CALL_TIMEOUT_S, Load
from tests.support.helpers import create_product, wait_until
from tests.support.invariant import wait_for_quiescence
from tests.support.processes import ServiceProcess, Services, base_env, running_services
from tests.support.rabbitmq_broker import PrivateRabbit

pytestmark = pytest.mark.slow
QUIET_WITHIN_S = 60.0
FINAL_EVENT = {
    "CONFIRMED": "eshop.order.v1.OrderConfirmed",
    "REJECTED": "eshop.order.v1.OrderRejected",
    "CANCELLED": "eshop.order.v1.OrderCancelled",
}


@pytest.fixture
def publishing(
    make_database_url: Callable[[str], str], tmp_path: Path, rabbitmq: PrivateRabbit, exchange: str
) -> Iterator[Services]:
    env = base_env()
    for prefix in ("PRODUCT", "ORDER"):
        env[f"{prefix}_EVENTS_BROKER_URL"] = rabbitmq.url
        env[f"{prefix}_EVENTS_EXCHANGE"] = exchange
        env.update({f"{prefix}_{name.upper()}": str(value) for name, value in FAST_EVENTS.items()})
    with running_services(make_database_url, tmp_path, env) as running:
        yield running


class Renames:
    """A thread renaming the products in a loop (a catalogue change each), whatever the calls answer."""

    def __init__(self, stub: object, product_ids: list[str]) -> None:
        self._stub, self._ids = stub, product_ids
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.answered = 0

    def __enter__(self) -> Renames:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(3 * CALL_TIMEOUT_S)

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            n += 1
            product_id = self._ids[n % len(self._ids)]
            try:
                self._stub.UpdateProduct(  # type: ignore[attr-defined]
                    pb.UpdateProductRequest(product=pb.Product(product_id=product_id, name=f"Item {n}")),
                    timeout=CALL_TIMEOUT_S,
                )
                self.answered += 1
            except grpc.RpcError:
                time.sleep(0.05)  # the service is down: its outage, not this test's subject


def _kill_under_load(services: Services, victim: ServiceProcess) -> None:
    stub = services.product_stub()
    product_ids = [create_product(stub, stock=5000, low_stock_threshold=4990).product_id for _ in range(2)]
    load = Load(services.order_stub(), product_ids, threads=3).start()
    try:
        with Renames(services.product_stub(), product_ids):
            wait_until(lambda: len(load.outcomes) >= 10, 30, "orders before the kill")
            victim.kill()
            time.sleep(2.0)  # the outage itself, not a wait for a result
            victim.start()
            done = len(load.outcomes)
            wait_until(lambda: len(load.outcomes) >= done + 10, 30, "orders after the restart")
    finally:
        load.stop()


def _assert_every_change_has_its_event(services: Services, tap: EventTap) -> None:
    wait_for_quiescence(services.order_db, timeout_s=QUIET_WITHIN_S)
    urls = [services.product_db, services.order_db]
    wait_all_published(urls, QUIET_WITHIN_S)
    committed = {row.event_id for url in urls for row in rows(url)}
    tap.wait_for(lambda r: committed <= {m.message_id for m in r}, QUIET_WITHIN_S, "every committed event")
    received = tap.received()
    assert_delivered_exactly_what_committed(received, urls)
    # Every final order has the event of its final status; every product its creation.
    types_of: dict[str, set[str]] = {}
    for message in first_deliveries(received):
        types_of.setdefault(message.subject, set()).add(message.type)
    finals = _final_orders(services.order_db)
    missing = [oid for oid, status in finals.items() if FINAL_EVENT[status] not in types_of.get(oid, set())]
    assert finals and missing == []
    for product_id in _product_ids(services.product_db):
        assert "eshop.product.v1.ProductCreated" in types_of[product_id]
    assert any("eshop.product.v1.ProductUpdated" in types for types in types_of.values())


def _final_orders(order_db: str) -> dict[str, str]:
    from sqlalchemy import NullPool, create_engine, text

    engine = create_engine(order_db, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return {r[0]: r[1] for r in conn.execute(text("SELECT order_id, status FROM orders"))}
    finally:
        engine.dispose()


def _product_ids(product_db: str) -> list[str]:
    from sqlalchemy import NullPool, create_engine, text

    engine = create_engine(product_db, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return [r[0] for r in conn.execute(text("SELECT product_id FROM products"))]
    finally:
        engine.dispose()


def test_product_service_killed_under_load_loses_no_event(publishing: Services, tap: EventTap) -> None:
    _kill_under_load(publishing, publishing.product)
    _assert_every_change_has_its_event(publishing, tap)


def test_order_service_killed_under_load_loses_no_event(publishing: Services, tap: EventTap) -> None:
    _kill_under_load(publishing, publishing.order)
    _assert_every_change_has_its_event(publishing, tap)
