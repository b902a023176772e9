"""Both services for real, on 127.0.0.1 with ephemeral ports and fresh databases.

``servers`` starts Product and Order servers as a test needs them (with extra interceptors, on a given
port, on a given database) and stops every one at teardown, Order servers first (their outbox worker
calls the Product service). The plain fixtures (``order_stub`` against the shared ``product_server``)
cover the common case.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from loguru import logger

from common.generated.eshop.order.v1 import order_pb2_grpc as opb_grpc
from common.generated.eshop.product.v1 import product_pb2_grpc as ppb_grpc
from order.settings import OrderSettings
from product.settings import ProductSettings
from tests.support.servers import RunningServer, start_order, start_product

OrderStub = opb_grpc.OrderServiceStub
ProductStub = ppb_grpc.ProductServiceStub

# Fast background work, so outbox outcomes show up within a test's patience.
FAST_OUTBOX: dict[str, Any] = {
    "outbox_poll_interval_s": 0.05,
    "outbox_initial_backoff_s": 0.05,
    "outbox_max_backoff_s": 0.2,
}


@dataclass
class Servers:
    make_database_url: Callable[[str], str]
    _running: list[tuple[str, RunningServer]] = field(default_factory=list)
    _channels: list[grpc.Channel] = field(default_factory=list)
    # Set at teardown before any server stops, so handlers blocked in a test interceptor return.
    unblock: list[threading.Event] = field(default_factory=list)
    _databases: int = 0

    def product(
        self,
        *,
        interceptors: tuple[grpc.aio.ServerInterceptor, ...] = (),
        port: int = 0,
        database_url: str | None = None,
    ) -> RunningServer:
        settings = ProductSettings(
            listen_address=f"127.0.0.1:{port}",
            database_url=database_url or self.database_url("product"),
            shutdown_grace_s=0,
        )
        running, _ = start_product(settings, extra_interceptors=interceptors)
        self._running.append(("product", running))
        return running

    def order(
        self,
        product_port: int,
        *,
        interceptors: tuple[grpc.aio.ServerInterceptor, ...] = (),
        database_url: str | None = None,
        **overrides: Any,
    ) -> RunningServer:
        settings = OrderSettings(
            listen_address="127.0.0.1:0",
            database_url=database_url or self.database_url("order"),
            product_service_target=f"127.0.0.1:{product_port}",
            shutdown_grace_s=0,
            **{**FAST_OUTBOX, **overrides},
        )
        running, _ = start_order(settings, extra_interceptors=interceptors)
        self._running.append(("order", running))
        return running

    def database_url(self, service: str) -> str:
        """A fresh database; names never clash with the shared ``product_server`` fixture's."""
        self._databases += 1
        return self.make_database_url(f"{service}-{self._databases}")

    def stop(self, running: RunningServer) -> None:
        for entry in list(self._running):
            if entry[1] is running:
                self._running.remove(entry)
                running.stop(0)

    def order_stub(self, running: RunningServer) -> OrderStub:
        return OrderStub(self._channel(running.port))

    def product_stub(self, running: RunningServer) -> ProductStub:
        return ProductStub(self._channel(running.port))

    def _channel(self, port: int) -> grpc.Channel:
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self._channels.append(channel)
        return channel

    def close(self) -> None:
        for event in self.unblock:
            event.set()
        for channel in self._channels:
            channel.close()
        for kind in ("order", "product"):
            for entry in [e for e in self._running if e[0] == kind]:
                self.stop(entry[1])


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


@dataclass(frozen=True)
class LogLine:
    message: str
    correlation_id: str | None


@pytest.fixture
def logs() -> Iterator[list[LogLine]]:
    """Every loguru record written while the test runs, by either in-process service, on any thread."""
    lines: list[LogLine] = []

    def sink(message: Any) -> None:
        record = message.record
        lines.append(LogLine(record["message"], record["extra"].get("correlation_id")))

    sink_id = logger.add(sink, format="{message}", level="DEBUG")
    try:
        yield lines
    finally:
        logger.remove(sink_id)
