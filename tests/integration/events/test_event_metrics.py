"""The event metrics with a broker: ``eshop_events_published_total{type}`` moves by exactly what the
broker confirmed; ``eshop_events_pending`` and ``eshop_events_oldest_age_seconds`` show what waits
while the broker is down and fall back to 0 once it is published."""

from __future__ import annotations

import pytest

from common.generated.eshop.product.v1 import product_pb2 as pb
from tests.support.event_tap import EventTap
from tests.support.helpers import create_product
from tests.support.prometheus_scrape import Scrape, scrape_until
from tests.support.rabbitmq_broker import PrivateRabbit
from tests.support.servers import Servers

pytestmark = pytest.mark.slow
CREATED, UPDATED = "eshop.product.v1.ProductCreated", "eshop.product.v1.ProductUpdated"
REFRESH_S = 20.0  # the gauges are refreshed every 5 s


def _published(scraped: Scrape, event_type: str) -> float:
    return scraped.value("eshop_events_published_total", type=event_type)


def test_published_counts_and_the_backlog_gauges_follow_the_broker(
    services: Servers, tap: EventTap, rabbitmq: PrivateRabbit
) -> None:
    server = services.product(metrics_address="127.0.0.1:0")
    assert server.metrics_address is not None
    products = services.product_stub(server)
    pid = create_product(products).product_id
    products.UpdateProduct(pb.UpdateProductRequest(product=pb.Product(product_id=pid, name="A")), timeout=10)

    scraped = scrape_until(
        server.metrics_address,
        lambda s: _published(s, UPDATED) == 1 and s.value("eshop_events_pending") == 0,
        REFRESH_S,
    )
    assert _published(scraped, CREATED) == 1
    assert _published(scraped, "eshop.product.v1.StockLow") == 0

    rabbitmq.stop_app()
    try:
        for name in ("B", "C"):
            products.UpdateProduct(
                pb.UpdateProductRequest(product=pb.Product(product_id=pid, name=name)), timeout=10
            )
        waiting = scrape_until(
            server.metrics_address,
            lambda s: s.value("eshop_events_pending") == 2 and s.value("eshop_events_oldest_age_seconds") > 0,
            REFRESH_S,
        )
        assert _published(waiting, UPDATED) == 1
    finally:
        rabbitmq.start_app()

    after = scrape_until(
        server.metrics_address,
        lambda s: s.value("eshop_events_pending") == 0 and _published(s, UPDATED) == 3,
        40.0,
    )
    assert after.value("eshop_events_oldest_age_seconds") == 0
