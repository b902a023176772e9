"""Real servers on 127.0.0.1 with an ephemeral port and a fresh database each. The Order service's
tests reuse the product fixtures from here."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import grpc
import pytest

from common.generated.eshop.product.v1 import product_pb2_grpc as pb_grpc
from product.settings import ProductSettings
from tests.support.servers import RunningServer
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
