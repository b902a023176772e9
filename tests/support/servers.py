"""A service on an event loop of its own, in a thread, so that synchronous tests can start it, call it,
run a coroutine on its loop (one pass of a background worker) and stop it, as production's
``asyncio.run`` never needs to: what only tests need lives here, not in ``common``."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Sequence
from typing import Any, Generic, TypeVar

import grpc
from grpc_health.v1 import health

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
        """Cancel what is still running on the loop (as ``asyncio.run`` does), then stop and close it."""
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
