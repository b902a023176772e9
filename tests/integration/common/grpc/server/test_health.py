"""Liveness vs readiness on grpc.health.v1: the overall name ``""`` is SERVING while the process runs
and is not shutting down; the service name follows the database; graceful shutdown turns both
NOT_SERVING.

The database is made unavailable the way each backend fails: on SQLite the directory holding the file
disappears (the pool's connections are dropped, and a new one cannot open the file); on PostgreSQL the
TCP proxy in front of the server is cut (as in ``reliability/test_database_outage.py``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy.engine import make_url

from product.container import ProductContainer
from product.settings import ProductSettings
from tests.support.helpers import wait_until
from tests.support.servers import RunningServer
from tests.support.servers import start_product as start
from tests.support.tcp_proxy import TcpProxy

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
LIVENESS = ""
READINESS = "eshop.product.v1.ProductService"
HEALTH_TIMEOUT_S = 20.0


def status(server: RunningServer, name: str) -> int:
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        response = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=name), timeout=5
        )
    value: int = response.status
    return value


@contextmanager
def product_on(database_url: str) -> Iterator[tuple[RunningServer, ProductContainer]]:
    settings = ProductSettings(listen_address="127.0.0.1:0", database_url=database_url)
    running, container = start(settings)
    try:
        yield running, container
    finally:
        running.stop(0)


@contextmanager
def unavailable_database(database_url: str, container: ProductContainer) -> Iterator[None]:
    """While inside: the service's database cannot be reached; restored on the way out."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        directory = Path(str(url.database)).parent
        away = directory.with_name(directory.name + "-away")
        directory.rename(away)
        container.database().close_connections()
        try:
            yield
        finally:
            away.rename(directory)
    else:
        yield  # the proxy was cut by the caller (see below)


def test_database_down_makes_readiness_not_serving_and_liveness_stays_serving(
    make_database_url: Callable[[str], str],
) -> None:
    direct = make_database_url("product")
    proxy: TcpProxy | None = None
    url = direct
    if make_url(direct).get_backend_name() == "postgresql":
        parsed = make_url(direct)
        proxy = TcpProxy(parsed.host or "127.0.0.1", parsed.port or 5432)
        url = parsed.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    try:
        with product_on(url) as (server, container):
            assert (status(server, LIVENESS), status(server, READINESS)) == (SERVING, SERVING)
            if proxy is not None:
                proxy.cut()
            with unavailable_database(url, container):
                wait_until(lambda: status(server, READINESS) == NOT_SERVING, HEALTH_TIMEOUT_S, "NOT_SERVING")
                assert status(server, LIVENESS) == SERVING
            if proxy is not None:
                proxy.restore()
            wait_until(lambda: status(server, READINESS) == SERVING, HEALTH_TIMEOUT_S, "SERVING again")
            assert status(server, LIVENESS) == SERVING
    finally:
        if proxy is not None:
            proxy.close()


def test_graceful_shutdown_turns_liveness_and_readiness_not_serving(
    make_database_url: Callable[[str], str],
) -> None:
    with product_on(make_database_url("product")) as (server, _container):
        # The first step of RunningServer.stop, observed before the server stops taking calls.
        server.call(server.health.enter_graceful_shutdown())

        assert (status(server, LIVENESS), status(server, READINESS)) == (NOT_SERVING, NOT_SERVING)


def test_a_readiness_probe_that_raises_is_not_serving_and_the_probe_goes_on(
    make_database_url: Callable[[str], str],
) -> None:
    with product_on(make_database_url("product")) as (server, container):
        engine = container.database().engine

        def broken(*_args: object, **_kwargs: object) -> NoReturn:
            raise RuntimeError("a failure no database class classifies")

        engine.connect = broken  # type: ignore[method-assign]
        try:
            wait_until(lambda: status(server, READINESS) == NOT_SERVING, HEALTH_TIMEOUT_S, "NOT_SERVING")
            assert status(server, LIVENESS) == SERVING
        finally:
            del engine.connect  # the class's own again
        wait_until(lambda: status(server, READINESS) == SERVING, HEALTH_TIMEOUT_S, "SERVING again")
