"""Fixtures for fault injection: both services as killable processes, or in this process with extra
interceptors (``target``: so, with known ids and their databases, for hostile input). Everything is
bounded in time and torn down whatever the test did."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import pytest
from sqlalchemy import create_engine

from common.generated.eshop.order.v1 import order_pb2_grpc
from common.generated.eshop.product.v1 import product_pb2_grpc
from order.settings import OrderSettings
from product.settings import ProductSettings
from tests.support.faults import create_order
from tests.support.fuzz_strategies import Known
from tests.support.fuzz_target import Target
from tests.support.helpers import create_product
from tests.support.processes import (
    ORDER_TEST_ENV,
    InProcess,
    Services,
    base_env,
    running_services,
)
from tests.support.servers import RunningServer, start_order, start_product


@pytest.fixture
def services(make_database_url: Callable[[str], str], tmp_path: Path) -> Iterator[Services]:
    """Product and Order services as real processes on fresh databases; always killed at teardown."""
    with running_services(make_database_url, tmp_path, base_env()) as running:
        yield running


@pytest.fixture
def start_in_process(make_database_url: Callable[[str], str]) -> Iterator[Callable[..., InProcess]]:
    """``start_in_process(product_interceptors=(...), product_db=url)`` -> both services in this process,
    stopped at teardown; the Order service talks to this Product service."""
    with _in_process(make_database_url) as start:
        yield start


@pytest.fixture(scope="module")
def target(make_module_database_url: Callable[[str], str]) -> Iterator[Target]:
    """Both services with known products and orders, shared by a module's tests as a fuzz run shares
    them between its examples: each test compares what is stored before and after its own call."""
    with _in_process(make_module_database_url) as start:
        services = start()
        channels = {
            "product": grpc.insecure_channel(services.product_target),
            "order": grpc.insecure_channel(services.order_target),
        }
        product_stub = product_pb2_grpc.ProductServiceStub(channels["product"])
        product_ids = [create_product(product_stub, stock=1_000).product_id for _ in range(2)]
        order_stub = order_pb2_grpc.OrderServiceStub(channels["order"])
        order_ids = [create_order(order_stub, [(product_ids[0], 1)]).order_id for _ in range(2)]
        engines = {"product": create_engine(services.product_db), "order": create_engine(services.order_db)}
        try:
            yield Target(services, Known(product_ids, order_ids), channels, engines)
        finally:
            for engine in engines.values():
                engine.dispose()
            for channel in channels.values():
                channel.close()


@contextmanager
def _in_process(make_database_url: Callable[[str], str]) -> Iterator[Callable[..., InProcess]]:
    started: list[RunningServer] = []

    def start(
        product_interceptors: tuple[grpc.aio.ServerInterceptor, ...] = (), product_db: str | None = None
    ) -> InProcess:
        product_db = product_db or make_database_url("product")
        order_db = make_database_url("order")
        product_settings = ProductSettings(listen_address="127.0.0.1:0", database_url=product_db)
        product_server, product_container = start_product(product_settings, product_interceptors)
        started.append(product_server)
        order_settings = OrderSettings(
            listen_address="127.0.0.1:0",
            database_url=order_db,
            product_service_target=f"127.0.0.1:{product_server.port}",
        ).model_copy(update={k.removeprefix("ORDER_").lower(): float(v) for k, v in ORDER_TEST_ENV.items()})
        order_server, order_container = start_order(order_settings)
        started.append(order_server)
        return InProcess(
            product_server, order_server, product_db, order_db, product_container, order_container
        )

    try:
        yield start
    finally:
        for server in reversed(started):
            server.stop(0)
