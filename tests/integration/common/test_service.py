"""``common.service``: a service stops in the documented order (health NOT_SERVING and the server, the
background workers, the service's own resources, the database, metrics), a call in flight finishes within
the grace period, and a start that fails half-way undoes what it had started, in the same order."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy import NullPool, create_engine, text

from common import service
from common.configuration import ConfigurationError
from common.generated.eshop.product.v1 import product_pb2, product_pb2_grpc
from common.metrics import ServiceMetrics
from common.service import Service
from product.container import ProductContainer
from product.server import PRODUCT
from product.settings import ProductSettings
from tests.support.helpers import create_product, new_id, order_request, wait_until
from tests.support.interceptors import Block, BlockReserve
from tests.support.servers import ServerLoop, Servers, start_in_thread

READINESS = "eshop.product.v1.ProductService"


class Steps:
    """What each part of the service saw when it was stopped, in order."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.address = ""

    def readiness(self) -> str:
        """The readiness a client sees now (UNAVAILABLE: the server no longer answers)."""
        with grpc.insecure_channel(self.address) as channel:
            try:
                reply = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(service=READINESS), timeout=2
                )
            except grpc.RpcError as error:
                return error.code().name
        return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


class RecordingWorker:
    def __init__(self, steps: Steps) -> None:
        self._steps = steps

    def start(self) -> None:
        self._steps.seen.append("worker started")

    async def stop(self) -> None:
        readiness = await asyncio.to_thread(self._steps.readiness)
        self._steps.seen.append(f"worker stopped (readiness {readiness})")


def recording(
    steps: Steps, monkeypatch: pytest.MonkeyPatch, *, fail_at_start: bool = False
) -> Service[Any, Any]:
    """The Product service with a recording worker, a resource of its own, a database and metrics that
    say when they are closed."""

    def container(**providers: Any) -> Any:
        made = ProductContainer(**providers)
        shutdown = made.shutdown_resources

        def recorded() -> Any:
            steps.seen.append("database closed")
            return shutdown()

        made.shutdown_resources = recorded
        return made

    started_metrics = service.start_service_metrics

    def metrics(name: str, settings: Any) -> ServiceMetrics:
        made = started_metrics(name, settings)
        shutdown = made.shutdown

        def recorded() -> None:
            steps.seen.append("metrics stopped")
            shutdown()

        made.shutdown = recorded  # type: ignore[method-assign]
        return made

    monkeypatch.setattr(service, "start_service_metrics", metrics)

    async def close_channel() -> None:
        steps.seen.append("channel closed")

    def access_policy(settings: ProductSettings) -> Any:
        if fail_at_start:
            raise ConfigurationError(["a step after the database failed"])
        return PRODUCT.access_policy(settings)

    workers: Callable[[Any], Sequence[Any]] = lambda container: [RecordingWorker(steps)]  # noqa: E731
    return replace(
        PRODUCT,
        container=container,
        workers=workers,
        closing=lambda container: [close_channel],
        access_policy=access_policy,
    )


def test_a_service_stops_in_the_documented_order(
    make_database_url: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    steps = Steps()
    settings = ProductSettings(listen_address="127.0.0.1:0", database_url=make_database_url("product"))
    running, _ = start_in_thread(recording(steps, monkeypatch), settings)
    steps.address = running.address
    assert steps.readiness() == "SERVING"

    running.stop(0)

    assert steps.seen == [
        "worker started",
        "worker stopped (readiness UNAVAILABLE)",  # after the server: it no longer answers
        "channel closed",
        "database closed",
        "metrics stopped",
    ]


def test_a_start_that_fails_half_way_undoes_what_it_started_in_the_same_order(
    make_database_url: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    steps = Steps()
    settings = ProductSettings(listen_address="127.0.0.1:0", database_url=make_database_url("product"))
    runner = ServerLoop("failing-start")
    try:
        with pytest.raises(ConfigurationError, match="a step after the database failed"):
            runner.call(service.start(recording(steps, monkeypatch, fail_at_start=True), settings))
    finally:
        runner.close()

    assert steps.seen == ["channel closed", "database closed", "metrics stopped"]


def test_a_call_in_flight_when_the_stop_begins_finishes_within_the_grace_period(
    make_database_url: Callable[[str], str],
) -> None:
    """SIGTERM's graceful stop: NOT_SERVING at once, and the call already running still gets its answer."""
    held = Block("/eshop.product.v1.ProductService/ListProducts")
    settings = ProductSettings(listen_address="127.0.0.1:0", database_url=make_database_url("product"))
    running, _ = start_in_thread(PRODUCT, settings, extra_interceptors=[held])
    steps = Steps()
    steps.address = running.address
    with ThreadPoolExecutor(2) as pool, grpc.insecure_channel(running.address) as channel:
        stub = product_pb2_grpc.ProductServiceStub(channel)
        call = pool.submit(stub.ListProducts, product_pb2.ListProductsRequest(), timeout=30)
        assert held.arrived.wait(10)
        stopping = pool.submit(running.stop, 20.0)
        wait_until(lambda: steps.readiness() != "SERVING", 10, "readiness to leave SERVING")
        assert not stopping.done() and not call.done()

        held.release.set()

        assert list(call.result(timeout=30).products) == []
        stopping.result(timeout=30)


def _statuses(database_url: str) -> list[str]:
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return [row[0] for row in conn.execute(text("SELECT status FROM orders"))]
    finally:
        engine.dispose()


def test_handler_work_whose_caller_left_gets_the_grace_before_the_channel_and_database_close(
    servers: Servers,
) -> None:
    """CreateOrder's own work goes on when its caller leaves (it must not stop between a commit and
    the step that completes it); the stop gives it the grace too, before it closes the channel to the
    Product service and the database under it (then cancels it, as a crash would end it)."""
    reserve = BlockReserve()
    servers.unblock.append(reserve.release)
    product = servers.product(interceptors=(reserve,))
    order_url = servers.database_url("order")
    order = servers.order(product.port, database_url=order_url, product_call_timeout_s=30)
    lamp = create_product(servers.product_stub(product), stock=5)
    call = servers.order_stub(order).CreateOrder.future(
        order_request(new_id(), (lamp.product_id, 1)), timeout=30
    )
    assert reserve.arrived.wait(10)
    call.cancel()  # the caller leaves; the order's own work waits on for the reservation
    steps = Steps()
    steps.address = order.address

    with ThreadPoolExecutor(1) as pool:
        stopping = pool.submit(order.call, order.service.stop(20.0))
        wait_until(lambda: steps.readiness() == "UNAVAILABLE", 10, "the order server to stop taking calls")
        reserve.release.set()
        stopping.result(timeout=30)

    assert _statuses(order_url) == ["CONFIRMED"]
