"""Real servers on 127.0.0.1 with an ephemeral port and a fresh database each: ``product_server`` /
``product_stub``, ``order_server`` / ``order_stub`` wired to it, ``servers`` for as many of either as a
test needs; ``order_database`` and ``product_database``, a fresh database with a service's schema, for
the tests of its storage (``logs`` is every test's: tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import grpc
import pytest

from common.db.database import Database
from common.generated.eshop.product.v1 import product_pb2_grpc as pb_grpc
from order.infrastructure.schema import create_schema as create_order_schema
from product.infrastructure.schema import create_schema as create_product_schema
from product.settings import ProductSettings
from tests.support.databases import schema_database
from tests.support.servers import OrderStub, RunningServer, Servers
from tests.support.servers import start_product as start


@pytest.fixture
def product_server(make_database_url: Callable[[str], str]) -> Iterator[RunningServer]:
    settings = ProductSettings(listen_address="127.0.0.1:0", database_url=make_database_url("product"))
    running, _container = start(settings)
    try:
        yield running
    finally:
        running.stop(0)


@pytest.fixture
def product_channel(product_server: RunningServer) -> Iterator[grpc.Channel]:
    channel = grpc.insecure_channel(f"127.0.0.1:{product_server.port}")
    try:
        yield channel
    finally:
        channel.close()


@pytest.fixture
def product_stub(product_channel: grpc.Channel) -> pb_grpc.ProductServiceStub:
    return pb_grpc.ProductServiceStub(product_channel)


@pytest.fixture
def servers(make_database_url: Callable[[str], str]) -> Iterator[Servers]:
    launched = Servers(make_database_url)
    try:
        yield launched
    finally:
        launched.close()


@pytest.fixture
def order_server(servers: Servers, product_server: RunningServer) -> RunningServer:
    return servers.order(product_server.port)


@pytest.fixture
def order_stub(servers: Servers, order_server: RunningServer) -> OrderStub:
    return servers.order_stub(order_server)


@pytest.fixture
def order_database(make_database_url: Callable[[str], str]) -> Iterator[Database]:
    with schema_database(make_database_url("order"), create_order_schema) as database:
        yield database


@pytest.fixture
def product_database(make_database_url: Callable[[str], str]) -> Iterator[Database]:
    with schema_database(make_database_url("product"), create_product_schema) as database:
        yield database
