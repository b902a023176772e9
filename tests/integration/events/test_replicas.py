"""Two replicas of each service on one database each, all publishing: every order's and product's
events still arrive in commit order (each subject's next event is offered only once the one before it
is confirmed, whichever replica published it), each committed event at least once."""

from __future__ import annotations

import random
import threading
from collections import defaultdict

import grpc
import pytest

from common.generated.eshop.order.v1 import order_pb2 as opb
from common.generated.eshop.product.v1 import events_pb2 as pev
from common.generated.eshop.product.v1 import product_pb2 as pb
from tests.support.event_ledger import (
    assert_delivered_exactly_what_committed,
    first_deliveries,
    wait_all_published,
)
from tests.support.event_tap import EventTap
from tests.support.helpers import create_product, new_id, order_request
from tests.support.servers import Servers

pytestmark = pytest.mark.slow
ROUNDS = 25
THREADS = 4


def test_two_replicas_publish_each_subjects_events_in_commit_order(services: Servers, tap: EventTap) -> None:
    product_url, order_url = services.database_url("product"), services.database_url("order")
    product_servers = [services.product(database_url=product_url) for _ in range(2)]
    order_servers = [services.order(p.port, database_url=order_url) for p in product_servers]
    products = [services.product_stub(s) for s in product_servers]
    orders = [services.order_stub(s) for s in order_servers]
    # Few products, so that replicas change the same ones at the same time (and StockLow happens).
    pids = [create_product(products[0], stock=160, low_stock_threshold=150).product_id for _ in range(3)]
    failures: list[str] = []

    def work(seed: int) -> None:
        chance = random.Random(seed)
        for n in range(ROUNDS):
            replica = chance.randrange(2)
            pid = chance.choice(pids)
            try:
                products[replica].UpdateProduct(
                    pb.UpdateProductRequest(product=pb.Product(product_id=pid, name=f"P {seed}-{n}")),
                    timeout=10,
                )
                order = orders[1 - replica].CreateOrder(order_request(new_id(), (pid, 1)), timeout=10)
                if chance.random() < 0.5:
                    orders[replica].CancelOrder(opb.CancelOrderRequest(order_id=order.order_id), timeout=10)
            except grpc.RpcError as error:
                failures.append(f"{error.code()}: {error.details()}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert failures == []

    wait_all_published([product_url, order_url], 30)
    tap.wait_for(
        lambda r: len({m.message_id for m in r}) >= _count(product_url, order_url), 30, "every event"
    )
    received = tap.received()
    assert_delivered_exactly_what_committed(received, [product_url, order_url])
    # Independently of the outbox's sequence: a product's etag grows with each of its changes.
    etags: dict[str, list[int]] = defaultdict(list)
    for message in first_deliveries(received):
        if message.app_id == "eshop-product" and message.type != "eshop.product.v1.ProductCreated":
            product = _product_of(message.type, message.body)
            etags[product.product_id].append(int(product.etag))
    assert set(etags) == set(pids)
    assert all(seen == sorted(set(seen)) for seen in etags.values()), "a product's events out of order"
    assert any(m.type == "eshop.product.v1.StockLow" for m in received)


def _count(*urls: str) -> int:
    from tests.support.event_ledger import rows

    return sum(len(rows(url)) for url in urls)


def _product_of(event_type: str, body: bytes) -> pb.Product:
    message = {
        "eshop.product.v1.ProductUpdated": pev.ProductUpdated,
        "eshop.product.v1.ProductDeleted": pev.ProductDeleted,
        "eshop.product.v1.StockLow": pev.StockLow,
    }[event_type].FromString(body)
    return message.product  # type: ignore[attr-defined,no-any-return]
