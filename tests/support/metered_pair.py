"""Product and Order, each serving its metrics endpoint, Order calling Product: the pair the metrics tests
scrape (tests/integration/observability). Product's ReserveStock can be made to fail on demand."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from order.container import OrderContainer
from order.settings import OrderSettings
from product.container import ProductContainer
from product.settings import ProductSettings
from tests.support.interceptors import FailReserve
from tests.support.prometheus_scrape import Scrape, scrape
from tests.support.servers import RunningServer, start_order, start_product


@dataclass
class MeteredPair:
    product: RunningServer
    order: RunningServer
    product_container: ProductContainer
    order_container: OrderContainer
    fail_reserve: FailReserve

    def product_metrics(self) -> Scrape:
        assert self.product.metrics_address is not None
        return scrape(self.product.metrics_address)

    def order_metrics(self) -> Scrape:
        assert self.order.metrics_address is not None
        return scrape(self.order.metrics_address)


@contextmanager
def metered_pair(
    make_database_url: Callable[[str], str],
    settings: Mapping[str, Any] | None = None,
    order_settings: Mapping[str, Any] | None = None,
) -> Iterator[MeteredPair]:
    """Both services on fresh databases, metrics on ephemeral ports; Order's outbox polls every 50 ms.
    ``settings`` go to both services (e.g. authorization's), ``order_settings`` to Order's alone."""
    fail_reserve = FailReserve(failures=0)
    product, product_container = start_product(
        ProductSettings(
            listen_address="127.0.0.1:0",
            database_url=make_database_url("product"),
            metrics_address="127.0.0.1:0",
            shutdown_grace_s=0,
            **(settings or {}),
        ),
        inner_interceptors=(fail_reserve,),
    )
    try:
        order, order_container = start_order(
            OrderSettings(
                listen_address="127.0.0.1:0",
                database_url=make_database_url("order"),
                product_service_target=f"127.0.0.1:{product.port}",
                metrics_address="127.0.0.1:0",
                shutdown_grace_s=0,
                outbox_poll_interval_s=0.05,
                **(settings or {}),
                **(order_settings or {}),
            )
        )
        try:
            yield MeteredPair(product, order, product_container, order_container, fail_reserve)
        finally:
            order.stop(0)
    finally:
        product.stop(0)
