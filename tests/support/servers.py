"""A service on an event loop of its own, in a thread, so that synchronous tests can start it, call it,
run a coroutine on its loop (one pass of a background worker) and stop it, as production's
``asyncio.run`` never needs to: what only tests need lives here, not in ``common``. ``Servers`` starts
Product and Order servers as a test needs them (with extra interceptors, on a given port, on a given
database) and stops every one at teardown, Order servers first (their outbox worker calls the Product
service)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import grpc
from grpc_health.v1 import health

from common.generated.eshop.order.v1 import order_pb2_grpc as opb_grpc
from common.generated.eshop.product.v1 import product_pb2_grpc as ppb_grpc
from common.service import C, RunningService, S, Service, start
from order.container import OrderContainer
from order.server import ORDER
from order.settings import OrderSettings
from product.container import ProductContainer
from product.server import PRODUCT
from product.settings import ProductSettings

T = TypeVar("T")


class ServerLoop:
    """An event loop running in a thread of its own."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the loop; wait for its result from this (another) thread."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def close(self) -> None:
        """Cancel what is still running on the loop and shut its default executor down (as
        ``asyncio.run`` does), then stop and close it."""
        self.call(_cancel_remaining_tasks())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


async def _cancel_remaining_tasks() -> None:
    current = asyncio.current_task()
    remaining = [task for task in asyncio.all_tasks() if task is not current]
    for task in remaining:
        task.cancel()
    await asyncio.gather(*remaining, return_exceptions=True)
    await asyncio.get_running_loop().shutdown_asyncgens()
    await asyncio.get_running_loop().shutdown_default_executor()  # its threads end with the loop


class RunningServer(Generic[C]):
    """A started service and the loop it runs on; ``stop`` from ordinary synchronous code."""

    def __init__(self, service: RunningService[C], runner: ServerLoop) -> None:
        self.service = service
        self.runner = runner
        self._stopped = False

    @property
    def address(self) -> str:
        return self.service.address

    @property
    def port(self) -> int:
        return self.service.port

    @property
    def metrics_address(self) -> str | None:
        return self.service.metrics_address

    @property
    def health(self) -> health.aio.HealthServicer:
        return self.service.grpc.health

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the server's loop (e.g. one pass of a background worker)."""
        return self.runner.call(coroutine)

    def stop(self, grace_s: float | None = None) -> None:
        """The service's own stop (see ``common.service``), then the loop's end."""
        if self._stopped:
            return
        self._stopped = True
        try:
            self.runner.call(self.service.stop(grace_s))
        finally:
            self.runner.close()


def start_in_thread(
    service: Service[S, C],
    settings: S,
    extra_interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    inner_interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
) -> tuple[RunningServer[C], C]:
    runner = ServerLoop(f"{service.name}-server")
    try:
        started = runner.call(
            start(
                service,
                settings,
                extra_interceptors=extra_interceptors,
                inner_interceptors=inner_interceptors,
            )
        )
    except BaseException:
        runner.close()
        raise
    return RunningServer(started, runner), started.container


def start_product(
    settings: ProductSettings | None = None,
    extra_interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    inner_interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
) -> tuple[RunningServer[ProductContainer], ProductContainer]:
    """The Product service (settings from the environment when none are given); the caller stops it."""
    return start_in_thread(PRODUCT, settings or ProductSettings(), extra_interceptors, inner_interceptors)


def start_order(
    settings: OrderSettings | None = None, extra_interceptors: Sequence[grpc.aio.ServerInterceptor] = ()
) -> tuple[RunningServer[OrderContainer], OrderContainer]:
    """The Order service (settings from the environment when none are given); the caller stops it."""
    return start_in_thread(ORDER, settings or OrderSettings(), extra_interceptors)


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
    """Servers a test starts as it needs them, each on a fresh database, stopped at its end (Order
    servers first). ``settings``: what every server of both services is given besides (e.g. a broker,
    tests/support/event_services.py)."""

    make_database_url: Callable[[str], str]
    settings: dict[str, Any] = field(default_factory=dict)
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
        **overrides: Any,
    ) -> RunningServer:
        settings = ProductSettings(
            listen_address=f"127.0.0.1:{port}",
            database_url=database_url or self.database_url("product"),
            shutdown_grace_s=0,
            **{**self.settings, **overrides},
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
            **{**FAST_OUTBOX, **self.settings, **overrides},
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
