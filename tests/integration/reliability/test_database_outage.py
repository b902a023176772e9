"""The database locked or unreachable: callers get UNAVAILABLE (retryable), never INTERNAL, and the
service recovers by itself when the database does.

Health follows what the service can do. A SQLite write lock held by someone else is contention, not an
outage: in WAL mode reads go on, the health probe's ``SELECT 1`` answers, so health stays SERVING
while writes wait out the 5 s busy timeout and fail UNAVAILABLE. A database that does not answer at
all is an outage: health goes NOT_SERVING. Only a server database can be unplugged, so that half runs
on PostgreSQL (behind a proxy we cut) and is skipped on SQLite. A SQLite file that refuses writes
(immutable) is an outage too, and the service writes again, with no restart, once the file does.
"""

from __future__ import annotations

import gc
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import psycopg
import pytest
from loguru import logger
from sqlalchemy.engine import make_url
from sqlalchemy.pool import QueuePool

from common.db.factory import open_database
from common.generated.eshop.order.v1 import order_pb2_grpc
from common.generated.eshop.product.v1 import product_pb2, product_pb2_grpc
from tests.support.faults import (
    LIVENESS,
    NOT_SERVING,
    SERVING,
    health_status,
    status_code_of,
)
from tests.support.helpers import create_product, new_id, order_request, wait_until
from tests.support.invariant import assert_stock_conserved, wait_for_quiescence
from tests.support.postgres_cluster import ThrowawayCluster
from tests.support.processes import InProcess
from tests.support.tcp_proxy import TcpProxy

# Longer than the 5 s SQLite busy timeout, so the server gives up before the client does.
WRITE_TIMEOUT_S = 15.0
HEALTH_TIMEOUT_S = 20.0
RECOVERY_TIMEOUT_S = 5.0  # "within a few seconds of the file becoming writable"


@pytest.fixture
def channel_to() -> Iterator[Callable[[str], grpc.Channel]]:
    """``channel_to(target)`` -> a channel closed at teardown."""
    channels: list[grpc.Channel] = []

    def open_channel(target: str) -> grpc.Channel:
        channels.append(grpc.insecure_channel(target))
        return channels[-1]

    yield open_channel
    for channel in channels:
        channel.close()


@pytest.mark.slow
def test_locked_sqlite_database(
    start_in_process: Callable[..., InProcess],
    channel_to: Callable[[str], grpc.Channel],
) -> None:
    services = start_in_process()
    if make_url(services.product_db).get_backend_name() != "sqlite":
        pytest.skip("a file lock held by another connection is SQLite's failure mode")
    stub = product_pb2_grpc.ProductServiceStub(channel_to(services.product_target))
    product_id = create_product(stub, stock=10).product_id
    restock = product_pb2.RestockProductRequest(product_id=product_id, quantity=5)

    locker = sqlite3.connect(str(make_url(services.product_db).database), isolation_level=None)
    gc.disable()  # a connection leaked by a failed BEGIN must show, not be collected behind our back
    try:
        locker.execute("BEGIN EXCLUSIVE")
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=3) as pool:
            writes = [
                pool.submit(status_code_of, lambda: stub.RestockProduct(restock, timeout=WRITE_TIMEOUT_S))
                for _ in range(2)
            ]
            orders = order_pb2_grpc.OrderServiceStub(channel_to(services.order_target))
            create = pool.submit(
                status_code_of,
                lambda: orders.CreateOrder(
                    order_request(new_id(), (product_id, 1), request_id=new_id()), timeout=10
                ),
            )
            # Reads go on under a write lock (WAL), and health says so.
            got = stub.GetProduct(product_pb2.GetProductRequest(product_id=product_id), timeout=5)
            assert got.stock_quantity == 10
            assert health_status(services.product_target) == SERVING
            assert [w.result(timeout=3 * WRITE_TIMEOUT_S) for w in writes] == [
                grpc.StatusCode.UNAVAILABLE
            ] * 2
            assert create.result(timeout=3 * WRITE_TIMEOUT_S) in {
                grpc.StatusCode.UNAVAILABLE,
                grpc.StatusCode.DEADLINE_EXCEEDED,
            }
        assert time.monotonic() - started < 2 * WRITE_TIMEOUT_S
        locker.rollback()
        # No retry needed by anyone but the caller: the next call simply works.
        assert stub.RestockProduct(restock, timeout=WRITE_TIMEOUT_S).stock_quantity == 15
        assert health_status(services.product_target) == SERVING
        database = services.product_container.database()
        assert isinstance(database.engine.pool, QueuePool)
        # In use: checked out and not the one kept idle between transactions.
        wait_until(lambda: database.connections_in_use() == 0, 10, "every database connection to be returned")
    finally:
        gc.enable()
        locker.close()

    # The order refused while the database was locked holds nothing (its release is delivered).
    wait_for_quiescence(services.order_db, timeout_s=60)
    assert_stock_conserved(services.product_db, services.order_db, {product_id: 10}, {product_id: 5})


def test_unreachable_database(
    start_in_process: Callable[..., InProcess],
    make_database_url: Callable[[str], str],
    channel_to: Callable[[str], grpc.Channel],
) -> None:
    direct = make_url(make_database_url("product"))
    if direct.get_backend_name() != "postgresql":
        pytest.skip("needs a database server to unplug (ESHOP_TEST_BACKEND=postgres); SQLite is a local file")
    proxy = TcpProxy(direct.host or "127.0.0.1", direct.port or 5432)
    try:
        proxied = direct.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        services = start_in_process(product_db=proxied)
        stub = product_pb2_grpc.ProductServiceStub(channel_to(services.product_target))
        product_id = create_product(stub, stock=10).product_id
        get = product_pb2.GetProductRequest(product_id=product_id)
        restock = product_pb2.RestockProductRequest(product_id=product_id, quantity=5)

        proxy.cut()
        wait_until(
            lambda: health_status(services.product_target) == NOT_SERVING, HEALTH_TIMEOUT_S, "NOT_SERVING"
        )
        # Readiness follows the database; liveness does not (a probe must not restart the pod for it).
        assert health_status(services.product_target, service=LIVENESS) == SERVING
        assert (
            status_code_of(lambda: stub.RestockProduct(restock, timeout=WRITE_TIMEOUT_S))
            is grpc.StatusCode.UNAVAILABLE
        )
        assert (
            status_code_of(lambda: stub.GetProduct(get, timeout=WRITE_TIMEOUT_S))
            is grpc.StatusCode.UNAVAILABLE
        )

        proxy.restore()
        wait_until(lambda: health_status(services.product_target) == SERVING, HEALTH_TIMEOUT_S, "SERVING")
        assert stub.RestockProduct(restock, timeout=WRITE_TIMEOUT_S).stock_quantity == 15
        assert stub.GetProduct(get, timeout=WRITE_TIMEOUT_S).stock_quantity == 15
    finally:
        proxy.close()


def _chattr(flag: str, path: Path) -> bool:
    return subprocess.run(["chattr", flag, str(path)], capture_output=True, check=False).returncode == 0


@pytest.mark.slow
def test_a_sqlite_file_that_refuses_writes_then_takes_them_again(
    start_in_process: Callable[..., InProcess],
    channel_to: Callable[[str], grpc.Channel],
) -> None:
    services = start_in_process()
    if make_url(services.product_db).get_backend_name() != "sqlite":
        pytest.skip("an immutable database file is SQLite's failure mode")
    path = Path(str(make_url(services.product_db).database))
    stub = product_pb2_grpc.ProductServiceStub(channel_to(services.product_target))
    product_id = create_product(stub, stock=10).product_id
    get = product_pb2.GetProductRequest(product_id=product_id)
    restock = product_pb2.RestockProductRequest(product_id=product_id, quantity=5)
    warnings: list[str] = []
    sink = logger.add(lambda m: warnings.append(m.record["message"]), level="WARNING", format="{message}")
    if not _chattr("+i", path):
        logger.remove(sink)
        pytest.skip("chattr +i is not available here (needs root and a filesystem that supports it)")
    try:
        # Connections opened before keep writing into the WAL; those SQLite opens now are read-only,
        # as after a restart or when the pool grows during the episode.
        services.product_container.database().close_connections()
        wait_until(
            lambda: (
                status_code_of(lambda: stub.RestockProduct(restock, timeout=WRITE_TIMEOUT_S))
                is grpc.StatusCode.UNAVAILABLE
            ),
            HEALTH_TIMEOUT_S,
            "writes to be refused",
        )
        assert stub.GetProduct(get, timeout=WRITE_TIMEOUT_S).stock_quantity == 10  # reads go on
        wait_until(
            lambda: health_status(services.product_target) == NOT_SERVING, HEALTH_TIMEOUT_S, "NOT_SERVING"
        )
        assert health_status(services.product_target, service=LIVENESS) == SERVING
        for _ in range(3):  # more failing calls: still one log line for the episode
            assert (
                status_code_of(lambda: stub.RestockProduct(restock, timeout=WRITE_TIMEOUT_S))
                is grpc.StatusCode.UNAVAILABLE
            )
    finally:
        assert _chattr("-i", path)

    # No restart: the next calls write within a few seconds, and health follows.
    wait_until(
        lambda: (
            status_code_of(lambda: stub.RestockProduct(restock, timeout=WRITE_TIMEOUT_S))
            is grpc.StatusCode.OK
        ),
        RECOVERY_TIMEOUT_S,
        "writes to work again",
    )
    for _ in range(5):  # every pooled connection, not just one
        stub.RestockProduct(restock, timeout=WRITE_TIMEOUT_S)
    wait_until(lambda: health_status(services.product_target) == SERVING, HEALTH_TIMEOUT_S, "SERVING")
    logger.remove(sink)
    failing = [w for w in warnings if "failing" in w]
    assert len(failing) == 1, warnings
    assert "readonly database" in failing[0]
    assert any("takes writes again" in w for w in warnings), warnings


def _on_postgres(services: InProcess) -> None:
    if make_url(services.product_db).get_backend_name() != "postgresql":
        pytest.skip(
            "a database server's connections and restarts are PostgreSQL's (ESHOP_TEST_BACKEND=postgres)"
        )


def _terminate_backends(url: str) -> int:
    """pg_terminate_backend for every other session on ``url``'s database; how many there were."""
    parsed = make_url(url)
    with psycopg.connect(
        host=parsed.host,
        port=parsed.port,
        user=parsed.username,
        password=parsed.password,
        dbname=parsed.database,
        autocommit=True,
    ) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


def test_terminated_postgresql_backends_cost_no_call(
    start_in_process: Callable[..., InProcess],
    channel_to: Callable[[str], grpc.Channel],
) -> None:
    services = start_in_process()
    _on_postgres(services)
    stub = product_pb2_grpc.ProductServiceStub(channel_to(services.product_target))
    product_id = create_product(stub, stock=10).product_id
    restock = product_pb2.RestockProductRequest(product_id=product_id, quantity=5)
    get = product_pb2.GetProductRequest(product_id=product_id)

    assert _terminate_backends(services.product_db) >= 1  # the pooled connection(s) of the service

    # The pool pings a connection before handing it out: the very next calls work.
    assert stub.RestockProduct(restock, timeout=WRITE_TIMEOUT_S).stock_quantity == 15
    assert stub.GetProduct(get, timeout=WRITE_TIMEOUT_S).stock_quantity == 15
    assert health_status(services.product_target) == SERVING


def test_readiness_survives_terminated_postgresql_backends(make_database_url: Callable[[str], str]) -> None:
    """With no pre-ping, the health probe's query is the first round trip on a stale pooled connection:
    it is asked again on a fresh one, so readiness does not flap while the database is fine."""
    url = make_database_url("ping")
    if make_url(url).get_backend_name() != "postgresql":
        pytest.skip("a database server's connections are PostgreSQL's (ESHOP_TEST_BACKEND=postgres)")
    database = open_database(url)
    try:
        database.serving()
        assert database.ping()  # the pool now holds a connection to the server
        assert _terminate_backends(url) >= 1

        assert database.ping()
        assert database.connections_in_use() == 0
    finally:
        database.dispose()


@pytest.mark.slow
def test_a_postgresql_restart_costs_no_call_once_it_is_back(
    start_in_process: Callable[..., InProcess],
    channel_to: Callable[[str], grpc.Channel],
    request: pytest.FixtureRequest,
) -> None:
    services = start_in_process()
    _on_postgres(services)
    cluster = request.getfixturevalue("postgres_server")
    if not isinstance(cluster, ThrowawayCluster):
        pytest.skip("restarts only the throwaway cluster, never a server given by ESHOP_TEST_POSTGRES_URL")
    stub = product_pb2_grpc.ProductServiceStub(channel_to(services.product_target))
    product_id = create_product(stub, stock=10).product_id
    restock = product_pb2.RestockProductRequest(product_id=product_id, quantity=5)

    cluster.restart()
    wait_until(lambda: health_status(services.product_target) == SERVING, HEALTH_TIMEOUT_S, "SERVING")

    assert stub.RestockProduct(restock, timeout=WRITE_TIMEOUT_S).stock_quantity == 15
