"""Both services publishing to a broker (a private RabbitMQ in the tests) on an exchange of their own,
with fast background work, started as a test needs them and stopped at its end, Order servers first."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

from common.generated.eshop.order.v1 import order_pb2_grpc as opb_grpc
from common.generated.eshop.product.v1 import product_pb2_grpc as ppb_grpc
from order.settings import OrderSettings
from product.settings import ProductSettings
from tests.support.servers import RunningServer, start_order, start_product

# Fast background work, so the tests see publications within their patience.
FAST_EVENTS: dict[str, Any] = {
    "events_poll_interval_s": 0.1,
    "events_initial_backoff_s": 0.1,
    "events_max_backoff_s": 1.0,
    "events_publish_timeout_s": 2.0,
}


class Services:
    def __init__(
        self,
        make_database_url: Callable[[str], str],
        broker_url: str,
        exchange: str,
        *,
        fast_events: bool = True,
    ) -> None:
        """``fast_events=False``: the events settings' defaults (what the contract's 30 s is promised for)."""
        self._make_database_url = make_database_url
        self.broker_url, self.exchange = broker_url, exchange
        self._events = FAST_EVENTS if fast_events else {}
        self._running: list[tuple[str, RunningServer]] = []
        self._channels: list[grpc.Channel] = []

    def product(self, *, database_url: str | None = None, **overrides: Any) -> RunningServer:
        settings = ProductSettings(
            listen_address="127.0.0.1:0",
            database_url=database_url or self._make_database_url("product"),
            shutdown_grace_s=0,
            events_broker_url=self.broker_url,
            events_exchange=self.exchange,
            **{**self._events, **overrides},
        )
        running, _ = start_product(settings)
        self._running.append(("product", running))
        return running

    def order(self, product_port: int, *, database_url: str | None = None, **overrides: Any) -> RunningServer:
        settings = OrderSettings(
            listen_address="127.0.0.1:0",
            database_url=database_url or self._make_database_url("order"),
            product_service_target=f"127.0.0.1:{product_port}",
            shutdown_grace_s=0,
            events_broker_url=self.broker_url,
            events_exchange=self.exchange,
            outbox_poll_interval_s=0.05,
            outbox_initial_backoff_s=0.05,
            outbox_max_backoff_s=0.2,
            **{**self._events, **overrides},
        )
        running, _ = start_order(settings)
        self._running.append(("order", running))
        return running

    def database_url(self, name: str) -> str:
        return self._make_database_url(name)

    def stop(self, server: RunningServer) -> None:
        """Stop one server (gracefully), e.g. to start another on its database."""
        server.stop(0)
        self._running = [(kind, running) for kind, running in self._running if running is not server]

    def channel(self, server: RunningServer) -> grpc.Channel:
        channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
        self._channels.append(channel)
        return channel

    def product_stub(self, server: RunningServer) -> ppb_grpc.ProductServiceStub:
        return ppb_grpc.ProductServiceStub(self.channel(server))

    def order_stub(self, server: RunningServer) -> opb_grpc.OrderServiceStub:
        return opb_grpc.OrderServiceStub(self.channel(server))

    def close(self) -> None:
        for channel in self._channels:
            channel.close()
        for _kind, running in sorted(self._running, key=lambda kr: kr[0] != "order"):
            running.stop(0)
